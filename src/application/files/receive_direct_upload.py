"""Use case: take a direct upload's bytes through the API, where storage cannot presign."""

from collections.abc import AsyncIterable
from dataclasses import dataclass

from application.audit.capture import audited
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.files.errors import StoredFileNotFoundError
from application.files.inspection import inspected
from application.files.links import FileLinks
from application.files.ports import FileRepository, FileStorage
from domain.files.content import ContentInspector
from domain.files.errors import FileTooLargeError, UnsupportedFileTypeError
from domain.files.policy import UploadPolicy
from domain.files.values import FileId, FileStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiveDirectUploadCommand:
    """The bytes sent to a signed upload URL, with the URL's expiry and signature."""

    file_id: FileId
    expires: int
    signature: str
    content_type: str | None
    declared_size: int | None
    chunks: AsyncIterable[bytes]


@audited("file.upload_receive", target="file", target_id=lambda command: command.file_id)
class ReceiveDirectUpload:
    """Store the bytes of a pending file, as S3 does for a presigned PUT.

    Rules:
    - The URL must carry this service's signature and be unexpired; no token is needed,
      as with a presigned URL.
    - As S3 would, it takes exactly the announced length and type, and a later PUT
      replaces an earlier one until the upload is completed.
    - The bytes stream through the same inspection as any upload, and must have the
      announced SHA-256 before storage keeps them, so a refused body leaves nothing. A
      PUT racing the completion can thus only store the bytes completion checked.
    - Storage keeps the bytes before the audit entry that says so commits (a transaction
      of its own, holding nothing else): completing the upload is the change of record.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        files: FileRepository,
        storage: FileStorage,
        policy: UploadPolicy,
        clock: Clock,
        links: FileLinks,
    ) -> None:
        self._uow = uow
        self._files = files
        self._storage = storage
        self._policy = policy
        self._clock = clock
        self._links = links

    async def __call__(self, command: ReceiveDirectUploadCommand) -> None:
        """Store the bytes under the pending file's key."""
        self._links.check_upload_url(
            command.file_id,
            expires=command.expires,
            signature=command.signature,
            now=self._clock.now(),
        )
        async with self._uow:
            stored = await self._files.get(command.file_id)
        if stored is None or stored.status is not FileStatus.PENDING:
            raise StoredFileNotFoundError
        if command.declared_size is not None and command.declared_size != stored.size:
            raise FileTooLargeError(
                f"the upload URL takes exactly {stored.size} bytes, not {command.declared_size}"
            )
        if command.content_type is not None and command.content_type != stored.content_type:
            raise UnsupportedFileTypeError(
                f"the upload URL takes {stored.content_type}, not {command.content_type}"
            )
        limited = UploadPolicy(
            max_bytes={**self._policy.max_bytes, stored.purpose: stored.size},
            quota_bytes=self._policy.quota_bytes,
            max_image_pixels=self._policy.max_image_pixels,
        )
        inspector = ContentInspector(policy=limited, purpose=stored.purpose)
        await self._storage.put(
            stored.storage_key,
            inspected(command.chunks, inspector, expected=stored.sha256),
            content_type=stored.content_type,
        )
        async with self._uow:
            await self._uow.commit()
