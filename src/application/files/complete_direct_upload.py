"""Use case: complete a direct upload, once its object is checked against what was announced."""

from dataclasses import dataclass

from application.audit.capture import audited
from application.common.identity import Identity
from application.common.ports.clock import Clock
from application.common.ports.task_queue import TaskQueue
from application.common.ports.unit_of_work import UnitOfWork
from application.files.access import load_own_file
from application.files.errors import NothingUploadedError
from application.files.inspection import inspected
from application.files.links import FileLinks
from application.files.make_thumbnail import enqueue_thumbnail
from application.files.ports import (
    FileRepository,
    FileStorage,
    ObjectMissingError,
    discard_object,
)
from application.files.views import FileView
from domain.files.content import ContentInspector
from domain.files.errors import FileStateError
from domain.files.policy import UploadPolicy
from domain.files.values import FileId, FileStatus
from domain.shared.errors import DomainError


@dataclass(frozen=True, slots=True, kw_only=True)
class CompleteDirectUploadCommand:
    """Who completes which of their direct uploads."""

    actor: Identity
    file_id: FileId


@audited("file.upload_complete", target="file", target_id=lambda command: command.file_id)
class CompleteDirectUpload:
    """Read the uploaded object back, check it, and make the file ready.

    Rules:
    - Only the owner completes, and only a pending file; completing a ready file again
      answers it as it is, a rejected one is `FileStateError`.
    - No object yet is `NothingUploadedError`, and the file stays pending for a retry.
    - An object of another size or digest, or one that breaks the purpose's rules (type
      from magic numbers, markup, image dimensions), is deleted and the file rejected:
      the client starts again.
    - `file.uploaded` goes out through the outbox; images get a thumbnail job.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        files: FileRepository,
        storage: FileStorage,
        policy: UploadPolicy,
        clock: Clock,
        queue: TaskQueue,
        links: FileLinks,
    ) -> None:
        self._uow = uow
        self._files = files
        self._storage = storage
        self._policy = policy
        self._clock = clock
        self._queue = queue
        self._links = links

    async def __call__(self, command: CompleteDirectUploadCommand) -> FileView:
        """Check the object and make the file ready; return it."""
        async with self._uow:
            stored = await load_own_file(
                self._files, command.file_id, owner=command.actor.user_id, for_update=False
            )
        if stored.status is FileStatus.READY:
            return self._links.view(stored)
        if stored.status is FileStatus.REJECTED:
            raise FileStateError("was rejected when its upload was completed; start a new upload")
        if await self._storage.stat(stored.storage_key) is None:
            raise NothingUploadedError
        inspector = ContentInspector(policy=self._policy, purpose=stored.purpose)
        try:
            try:
                async for _ in inspected(self._storage.read(stored.storage_key), inspector):
                    pass
            except ObjectMissingError:
                raise NothingUploadedError from None
            content = inspector.finish()
            async with self._uow:
                current = await load_own_file(
                    self._files, command.file_id, owner=stored.owner_id, for_update=True
                )
                if current.status is FileStatus.READY:
                    return self._links.view(current)
                current.complete(content, now=self._clock.now())
                await self._files.save(current)
                self._uow.track(current)
                enqueue_thumbnail(self._uow, self._queue, current)
                await self._uow.commit()
        except DomainError as refused:
            await self._reject(command.file_id, stored.storage_key, refused)
            raise
        return self._links.view(current)

    async def _reject(self, file_id: FileId, key: str, refused: DomainError) -> None:
        """Mark the file rejected; the audit entry of that commit records `refused`."""
        async with self._uow:
            current = await self._files.get(file_id, for_update=True)
            if current is not None and current.status is FileStatus.PENDING:
                current.reject(now=self._clock.now())
                await self._files.save(current)
                self._uow.track(current)
                await self._uow.commit(refusing=refused)
        await discard_object(self._storage, key)
