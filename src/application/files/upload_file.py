"""Use case: upload a file through the API, checked while it streams to storage."""

from collections.abc import AsyncIterable
from dataclasses import dataclass

from application.audit.capture import audited
from application.common.identity import Identity
from application.common.ports.clock import Clock
from application.common.ports.ids import IdGenerator
from application.common.ports.task_queue import TaskQueue
from application.common.ports.unit_of_work import UnitOfWork
from application.files.inspection import inspected
from application.files.links import FileLinks
from application.files.make_thumbnail import enqueue_thumbnail
from application.files.ports import FileRepository, FileStorage, discard_object
from application.files.views import FileView
from domain.files.content import ContentInspector
from domain.files.policy import EXTENSIONS, UNNAMED_STEM, UploadPolicy
from domain.files.stored_file import StoredFile, storage_key_for
from domain.files.values import FileId, FileName, FilePurpose


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadFileCommand:
    """Who uploads what: the bytes arrive as `chunks`, which may end early or fail.

    `declared_size` is the request's ``Content-Length`` when it had one: a body announced
    too large is refused before a byte is read. Without a `name`, the file is called
    ``upload`` with its detected type's extension.
    """

    actor: Identity
    purpose: FilePurpose
    name: str | None
    chunks: AsyncIterable[bytes]
    declared_size: int | None = None


@audited("file.upload", target="file")
class UploadFile:
    """Store an uploaded file and record it as ready.

    Rules:
    - The name, the size limit of the purpose and the owner's quota are checked before a
      byte is read, as far as the declared size allows; the bytes are then checked as they
      stream (type from magic numbers, markup, image dimensions, the size limit), so a
      refused upload stops at the first bad chunk.
    - Nothing of a refused or interrupted upload is kept: storage drops what it received,
      and no record is written. Once the commit is under way its outcome may be unknown
      (a connection lost after COMMIT was sent): the bytes then stay, for a record that
      may exist, and garbage collection removes them if it does not.
    - The quota is checked again, with the true size, under a per-owner lock in the
      transaction that records the file, so concurrent uploads cannot overrun it together.
    - `file.uploaded` goes out through the outbox; images get a thumbnail job after commit.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        files: FileRepository,
        storage: FileStorage,
        policy: UploadPolicy,
        ids: IdGenerator,
        clock: Clock,
        queue: TaskQueue,
        links: FileLinks,
    ) -> None:
        self._uow = uow
        self._files = files
        self._storage = storage
        self._policy = policy
        self._ids = ids
        self._clock = clock
        self._queue = queue
        self._links = links

    async def __call__(self, command: UploadFileCommand) -> FileView:
        """Stream, check and record the file; return it as its owner sees it."""
        owner = command.actor.user_id
        name = FileName.parse(command.name) if command.name is not None else None
        if command.declared_size is not None:
            self._policy.check_size(command.purpose, command.declared_size)
        async with self._uow:
            in_use = await self._files.bytes_in_use(owner)
        self._policy.check_quota(in_use=in_use, incoming=command.declared_size or 1)
        file_id = FileId(self._ids.new_id())
        key = storage_key_for(file_id)
        inspector = ContentInspector(policy=self._policy, purpose=command.purpose)
        await self._storage.put(
            key, inspected(command.chunks, inspector), content_type="application/octet-stream"
        )
        committing = False
        try:
            content = inspector.finish()
            async with self._uow:
                in_use = await self._files.bytes_in_use(owner, lock=True)
                self._policy.check_quota(in_use=in_use, incoming=content.size)
                stored = StoredFile.received(
                    id=file_id,
                    owner_id=owner,
                    purpose=command.purpose,
                    name=name or FileName(UNNAMED_STEM + EXTENSIONS[content.content_type]),
                    content=content,
                    backend=self._storage.backend,
                    now=self._clock.now(),
                )
                await self._files.add(stored)
                self._uow.track(stored)
                enqueue_thumbnail(self._uow, self._queue, stored)
                committing = True
                await self._uow.commit()
        except BaseException:
            if not committing:
                await discard_object(self._storage, key)
            raise
        return self._links.view(stored)
