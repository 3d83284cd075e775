"""Use case: delete a file, by its owner or a moderator."""

from dataclasses import dataclass

from application.audit.capture import audited
from application.common.identity import Identity
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.files.access import ensure_may_delete
from application.files.errors import StoredFileNotFoundError
from application.files.links import FileLinks
from application.files.ports import FileRepository, FileStorage, discard_object
from application.users.ports import UserRepository
from domain.files.stored_file import StoredFile
from domain.files.values import FileId, FileStatus
from domain.users.values import Profile


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteFileCommand:
    """Who deletes which file."""

    actor: Identity
    file_id: FileId


@audited("file.delete", target="file", target_id=lambda command: command.file_id)
class DeleteFile:
    """Mark a file deleted and remove its bytes.

    Rules:
    - The owner or a moderator may delete a file. Anyone else is told it is not theirs
      if they may read it, and that it is not found otherwise.
    - A deleted avatar that is its owner's profile image leaves the profile without one.
    - `file.deleted` goes out through the outbox. The bytes and thumbnail are removed
      once the deletion commits; what an outage leaves, garbage collection removes.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        files: FileRepository,
        storage: FileStorage,
        users: UserRepository,
        clock: Clock,
        links: FileLinks,
    ) -> None:
        self._uow = uow
        self._files = files
        self._storage = storage
        self._users = users
        self._clock = clock
        self._links = links

    async def __call__(self, command: DeleteFileCommand) -> None:
        """Delete the file."""
        async with self._uow:
            stored = await self._files.get(command.file_id, for_update=True)
            if stored is None or stored.status is FileStatus.DELETED:
                raise StoredFileNotFoundError
            ensure_may_delete(stored, command.actor)
            now = self._clock.now()
            stored.delete(by=command.actor.user_id, now=now)
            await self._files.save(stored)
            self._uow.track(stored)
            await self._forget_avatar(stored)
            self._uow.after_commit(lambda: remove_objects(self._storage, stored))
            await self._uow.commit()

    async def _forget_avatar(self, stored: StoredFile) -> None:
        owner = await self._users.get(stored.owner_id, for_update=True)
        if owner is None or owner.profile.image != self._links.avatar_url(stored.id):
            return
        owner.update(now=self._clock.now(), profile=Profile(bio=owner.profile.bio, image=None))
        await self._users.save(owner)
        self._uow.track(owner)


async def remove_objects(storage: FileStorage, stored: StoredFile) -> None:
    """Remove a deleted file's bytes and thumbnail from storage."""
    await discard_object(storage, stored.storage_key)
    if stored.thumbnail_key is not None:
        await discard_object(storage, stored.thumbnail_key)
