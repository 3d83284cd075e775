"""The StoredFile aggregate: one uploaded file, its checked facts, and who may read it."""

import re
from datetime import datetime
from typing import Self

from domain.articles.values import ArticleId
from domain.files.content import InspectedContent
from domain.files.errors import FileStateError, UploadMismatchError
from domain.files.events import FileDeleted, FileUploaded
from domain.files.values import FileId, FileName, FilePurpose, FileStatus, Sha256Digest
from domain.shared.aggregate import AggregateRoot
from domain.users.values import UserId


def storage_key_for(file_id: FileId) -> str:
    """Where a file's bytes live in storage: derived from its id alone, never from input."""
    return f"files/{file_id}"


def thumbnail_key_for(file_id: FileId) -> str:
    """Where an image's thumbnail lives in storage."""
    return f"thumbnails/{file_id}.webp"


KEY_PREFIXES = ("files/", "thumbnails/")
"""Where every key Portico makes starts; storage outside them is not Portico's."""
_KEY_SHAPE = re.compile(
    r"\A(?:files/[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"
    r"|thumbnails/[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\.webp)\Z"
)


def is_portico_key(key: str) -> bool:
    """Whether `key` has the shape of a key Portico makes: a file's, or a thumbnail's."""
    return _KEY_SHAPE.match(key) is not None


class StoredFile(AggregateRoot):
    """A file a user uploaded, for one purpose.

    Its bytes live in storage under `storage_key`. It is served only once `ready`: after
    an upload through the API was checked while it streamed, or after a direct upload's
    object was read back and matched what was announced.

    Who may read it follows from its purpose: avatars are public, an article image is
    public once attached to an article (articles are public once published), and an
    attachment only ever to its owner. The public reads an image through its thumbnail.
    """

    __slots__ = (
        "article_id",
        "backend",
        "content_type",
        "created_at",
        "id",
        "name",
        "owner_id",
        "purpose",
        "sha256",
        "size",
        "status",
        "storage_key",
        "thumbnail_key",
        "updated_at",
    )

    def __init__(
        self,
        *,
        id: FileId,  # noqa: A002 - the aggregate's identity is its id
        owner_id: UserId,
        purpose: FilePurpose,
        name: FileName,
        content_type: str,
        size: int,
        sha256: Sha256Digest,
        storage_key: str,
        backend: str,
        status: FileStatus,
        created_at: datetime,
        updated_at: datetime,
        article_id: ArticleId | None = None,
        thumbnail_key: str | None = None,
    ) -> None:
        super().__init__()
        self.id = id
        self.owner_id = owner_id
        self.purpose = purpose
        self.name = name
        self.content_type = content_type
        self.size = size
        self.sha256 = sha256
        self.storage_key = storage_key
        self.backend = backend
        self.status = status
        self.created_at = created_at
        self.updated_at = updated_at
        self.article_id = article_id
        self.thumbnail_key = thumbnail_key

    @classmethod
    def received(
        cls,
        *,
        id: FileId,  # noqa: A002 - the aggregate's identity is its id
        owner_id: UserId,
        purpose: FilePurpose,
        name: FileName,
        content: InspectedContent,
        backend: str,
        now: datetime,
    ) -> Self:
        """A file uploaded through the API, checked as it streamed: ready at once."""
        stored = cls(
            id=id,
            owner_id=owner_id,
            purpose=purpose,
            name=name,
            content_type=content.content_type,
            size=content.size,
            sha256=content.sha256,
            storage_key=storage_key_for(id),
            backend=backend,
            status=FileStatus.READY,
            created_at=now,
            updated_at=now,
        )
        stored._record_uploaded(now)
        return stored

    @classmethod
    def announced(
        cls,
        *,
        id: FileId,  # noqa: A002 - the aggregate's identity is its id
        owner_id: UserId,
        purpose: FilePurpose,
        name: FileName,
        content_type: str,
        size: int,
        sha256: Sha256Digest,
        backend: str,
        now: datetime,
    ) -> Self:
        """A direct upload was started: `pending` until its object is checked."""
        return cls(
            id=id,
            owner_id=owner_id,
            purpose=purpose,
            name=name,
            content_type=content_type,
            size=size,
            sha256=sha256,
            storage_key=storage_key_for(id),
            backend=backend,
            status=FileStatus.PENDING,
            created_at=now,
            updated_at=now,
        )

    @property
    def is_public(self) -> bool:
        """Whether anyone may read it, signed in or not."""
        return self.purpose is FilePurpose.AVATAR or (
            self.purpose is FilePurpose.ARTICLE_IMAGE and self.article_id is not None
        )

    def is_owned_by(self, user_id: UserId | None) -> bool:
        """Whether `user_id` uploaded it."""
        return self.owner_id == user_id

    def is_readable_by(self, user_id: UserId | None, *, thumbnail: bool = False) -> bool:
        """Whether `user_id` (None when anonymous) may read the bytes, or the thumbnail, now.

        Only the owner reads an original: a photo may carry where it was taken in its
        metadata. Everyone else reads a public image through its thumbnail, which has none.
        """
        if self.status is not FileStatus.READY:
            return False
        return self.is_owned_by(user_id) or (thumbnail and self.is_public)

    def complete(self, content: InspectedContent, *, now: datetime) -> None:
        """The direct upload's object was read back as `content`; it must be what was announced.

        Raises `UploadMismatchError` on another size or digest, and changes nothing then:
        the caller decides whether to `reject` the file.
        """
        self._require(FileStatus.PENDING, "has no direct upload in progress")
        if content.size != self.size:
            raise UploadMismatchError(
                f"the uploaded object has {content.size} bytes, {self.size} were announced"
            )
        if content.sha256 != self.sha256:
            raise UploadMismatchError("the uploaded object's SHA-256 is not the one announced")
        self.content_type = content.content_type
        self._set_status(FileStatus.READY)
        self.updated_at = now
        self._record_uploaded(now)

    def reject(self, *, now: datetime) -> None:
        """A direct upload failed its checks, or was never made before its deadline."""
        self._require(FileStatus.PENDING, "has no direct upload in progress")
        self._set_status(FileStatus.REJECTED)
        self.updated_at = now

    def delete(self, *, by: UserId, now: datetime) -> bool:
        """Mark the file deleted; False if it already was. Only a ready file's deletion is news."""
        if self.status is FileStatus.DELETED:
            return False
        was_ready = self.status is FileStatus.READY
        self._set_status(FileStatus.DELETED)
        self.updated_at = now
        if was_ready:
            self.record(
                FileDeleted(
                    aggregate_id=str(self.id),
                    occurred_at=now,
                    owner_id=str(self.owner_id),
                    purpose=self.purpose.value,
                    deleted_by=str(by),
                )
            )
        return True

    def attach_to(self, article_id: ArticleId, *, now: datetime) -> None:
        """Show this image with an article, which makes it public."""
        self._require(FileStatus.READY, "is not ready")
        if self.purpose is not FilePurpose.ARTICLE_IMAGE:
            raise FileStateError(
                f"is for {self.purpose.value}; only article_image files go with articles"
            )
        self._set_article(article_id)
        self.updated_at = now

    def detach(self, *, now: datetime) -> None:
        """No longer show this image with its article; it is private to its owner again."""
        self._set_article(None)
        self.updated_at = now

    def set_thumbnail(self, key: str, *, now: datetime) -> None:
        """A thumbnail of the image was stored under `key`."""
        self.thumbnail_key = key
        self.updated_at = now

    def _set_status(self, status: FileStatus) -> None:
        self.note_change("status", self.status.value, status.value)
        self.status = status

    def _set_article(self, article_id: ArticleId | None) -> None:
        if article_id != self.article_id:
            before = None if self.article_id is None else str(self.article_id)
            self.note_change("article", before, None if article_id is None else str(article_id))
        self.article_id = article_id

    def _require(self, status: FileStatus, message: str) -> None:
        if self.status is not status:
            raise FileStateError(message)

    def _record_uploaded(self, now: datetime) -> None:
        self.record(
            FileUploaded(
                aggregate_id=str(self.id),
                occurred_at=now,
                owner_id=str(self.owner_id),
                purpose=self.purpose.value,
                content_type=self.content_type,
                size=self.size,
            )
        )
