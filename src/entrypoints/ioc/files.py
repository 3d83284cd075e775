"""Providers of the files context: the storage backend chosen by settings, and its use cases."""

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from dishka import Provider, Scope, provide, provide_all

from adapters.pillow.images import PillowImageProcessor
from adapters.sqlalchemy.files import SqlFileRepository
from application.common.ports.opaque_tokens import OpaqueTokens
from application.files.attach_article_images import AttachArticleImages
from application.files.collect_file_garbage import CollectFileGarbage
from application.files.complete_direct_upload import CompleteDirectUpload
from application.files.delete_file import DeleteFile
from application.files.file_usage import FileUsageReport
from application.files.links import DirectTransfers, FileLinks
from application.files.list_article_images import ListArticleImages
from application.files.make_thumbnail import MakeThumbnail
from application.files.ports import FileRepository, FileStorage, ImageProcessor
from application.files.read_file import ReadFile
from application.files.receive_direct_upload import ReceiveDirectUpload
from application.files.set_avatar import SetAvatar
from application.files.start_direct_upload import StartDirectUpload
from application.files.upload_file import UploadFile
from application.health.ports import HealthProbe
from domain.files.policy import UploadPolicy
from domain.files.values import FilePurpose
from entrypoints.config.settings import Settings


def local_storage_dir(settings: Settings) -> Path:
    """Where `local` storage keeps files: STORAGE_LOCAL_DIR, else DATA_DIR/uploads."""
    configured = settings.storage.local_dir
    return Path(configured) if configured else Path(settings.app.data_dir) / "uploads"


class FileStorageProvider(Provider):
    """The one storage backend of the process, as STORAGE_BACKEND chose it."""

    scope = Scope.APP

    @provide
    async def storage(self, settings: Settings) -> AsyncIterator[FileStorage]:
        """A directory, or a bucket whose client is closed with the container."""
        storage = settings.storage
        if storage.backend == "s3":
            from adapters.s3.file_storage import S3FileStorage  # noqa: PLC0415 - S3 client only when chosen

            bucket = S3FileStorage(
                bucket=storage.s3_bucket or "",
                region=storage.s3_region,
                endpoint_url=storage.s3_endpoint_url,
                public_endpoint_url=storage.s3_public_endpoint_url,
                access_key_id=storage.s3_access_key_id,
                secret_access_key=storage.s3_secret_access_key,
            )
            try:
                yield bucket
            finally:
                await bucket.close()
        else:
            from adapters.filesystem.file_storage import LocalFileStorage  # noqa: PLC0415 - as the others

            yield LocalFileStorage(local_storage_dir(settings))

    @provide(provides=HealthProbe)
    async def probe(self, settings: Settings) -> AsyncIterator[HealthProbe]:
        """The configured backend's readiness probe: HeadBucket, or a file made in the directory.

        An API process serves uploads and downloads, so it is not ready without its storage.
        The probe does not go through the storage: one that cannot be built (a directory
        that cannot be made) is then reported down, not as an error of the probe's wiring.
        """
        configured = settings.storage
        if configured.backend == "s3":
            from adapters.s3.health import S3StorageProbe  # noqa: PLC0415 - S3 client only when chosen

            probe = S3StorageProbe(
                bucket=configured.s3_bucket or "",
                region=configured.s3_region,
                endpoint_url=configured.s3_endpoint_url,
                access_key_id=configured.s3_access_key_id,
                secret_access_key=configured.s3_secret_access_key,
                timeout_seconds=settings.app.readiness_timeout_seconds,
            )
            try:
                yield probe
            finally:
                await probe.close()
        else:
            from adapters.filesystem.health import LocalStorageProbe  # noqa: PLC0415 - as the others

            yield LocalStorageProbe(local_storage_dir(settings))

    @provide
    def images(self) -> ImageProcessor:
        """Pillow, two images decoded at a time per process to bound memory."""
        return PillowImageProcessor()


class FilePolicyProvider(Provider):
    """The upload limits, link building and URL lifetimes, from settings."""

    scope = Scope.APP

    @provide
    def upload_policy(self, settings: Settings) -> UploadPolicy:
        """Bytes per purpose, the quota per user, pixels per image."""
        storage = settings.storage
        return UploadPolicy(
            max_bytes={
                FilePurpose.AVATAR: storage.avatar_max_bytes,
                FilePurpose.ARTICLE_IMAGE: storage.article_image_max_bytes,
                FilePurpose.ATTACHMENT: storage.attachment_max_bytes,
            },
            quota_bytes=storage.quota_bytes,
            max_image_pixels=storage.max_image_pixels,
        )

    @provide
    def links(self, settings: Settings, tokens: OpaqueTokens) -> FileLinks:
        """File URLs under APP_PUBLIC_URL, and upload URLs signed with the service's key."""
        return FileLinks(public_url=settings.app.public_url, tokens=tokens)

    @provide
    def transfers(self, settings: Settings) -> DirectTransfers:
        """How long presigned URLs live; whether S3 serves downloads itself."""
        return DirectTransfers(
            expires_in=timedelta(seconds=settings.storage.presign_expiry_seconds),
            redirect_downloads=settings.storage.redirect_downloads,
        )


class FileUseCaseProvider(Provider):
    """The file records on PostgreSQL, and every files use case, per request."""

    scope = Scope.REQUEST
    files = provide(SqlFileRepository, provides=FileRepository)
    use_cases = provide_all(
        UploadFile,
        StartDirectUpload,
        ReceiveDirectUpload,
        CompleteDirectUpload,
        ReadFile,
        DeleteFile,
        SetAvatar,
        AttachArticleImages,
        ListArticleImages,
        MakeThumbnail,
        CollectFileGarbage,
        FileUsageReport,
    )
