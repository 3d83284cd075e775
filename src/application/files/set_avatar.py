"""Use case: make an uploaded image one's avatar, the profile's RealWorld ``image``."""

from dataclasses import dataclass, field

from application.articles.read_cache import ContentReadCache
from application.audit.capture import audited
from application.common.errors import AuthenticationRequiredError
from application.common.identity import Identity
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.files.access import load_own_file
from application.files.delete_file import remove_objects
from application.files.links import FileLinks
from application.files.ports import FileRepository, FileStorage
from application.users.authenticated_user import AuthenticatedUser
from application.users.ports import UserRepository
from domain.files.errors import FileStateError
from domain.files.stored_file import StoredFile
from domain.files.values import FileId, FilePurpose, FileStatus
from domain.users.values import Profile, UserId


@dataclass(frozen=True, slots=True, kw_only=True)
class SetAvatarCommand:
    """Which of the caller's files becomes their avatar; `access_token` is handed back."""

    actor: Identity
    access_token: str = field(repr=False)
    file_id: FileId


@audited("user.avatar_set", target="user", target_id=lambda command: command.actor.user_id)
class SetAvatar:
    """Point the caller's profile image at one of their ready avatar files.

    Rules:
    - The file must be the caller's own, ready, and uploaded as an ``avatar``.
    - The image becomes the file's thumbnail URL: small, and stripped of the metadata
      (GPS positions) the original may carry, since avatars are public.
    - The previous avatar file, if the profile showed one, is deleted: it would only
      take quota.
    - `UserProfileUpdated` names the image; cached reads that show the author are dropped.
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
        read_cache: ContentReadCache,
    ) -> None:
        self._uow = uow
        self._files = files
        self._storage = storage
        self._users = users
        self._clock = clock
        self._links = links
        self._read_cache = read_cache

    async def __call__(self, command: SetAvatarCommand) -> AuthenticatedUser:
        """Set the avatar; return the account as RealWorld shows it."""
        now = self._clock.now()
        async with self._uow:
            stored = await load_own_file(self._files, command.file_id, owner=command.actor.user_id)
            if stored.purpose is not FilePurpose.AVATAR:
                raise FileStateError(f"is for {stored.purpose.value}; upload an avatar")
            if stored.status is not FileStatus.READY:
                raise FileStateError("is not ready; complete its upload first")
            user = await self._users.get(command.actor.user_id, for_update=True)
            if user is None:
                raise AuthenticationRequiredError("the account no longer exists")
            image = self._links.avatar_url(stored.id)
            previous = await self._previous_avatar(
                user.profile.image, owner=user.id, keep=stored.id
            )
            user.update(now=now, profile=Profile(bio=user.profile.bio, image=image))
            await self._users.save(user)
            self._uow.track(user)
            if previous is not None:
                previous.delete(by=command.actor.user_id, now=now)
                await self._files.save(previous)
                self._uow.track(previous)
                self._uow.after_commit(lambda: remove_objects(self._storage, previous))
            self._read_cache.invalidate_after_commit(self._uow)
            await self._uow.commit()
        return AuthenticatedUser.of(user, command.access_token)

    async def _previous_avatar(
        self, image: str | None, *, owner: UserId, keep: FileId
    ) -> StoredFile | None:
        previous_id = self._links.avatar_file_id(image)
        if previous_id is None or previous_id == keep:
            return None
        previous = await self._files.get(previous_id, for_update=True)
        if previous is None or not previous.is_owned_by(owner):
            return None
        if previous.status is not FileStatus.READY:
            return None
        return previous
