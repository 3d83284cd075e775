"""Use case: follow another user."""

from application.audit.capture import audited, identify_target
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.profiles.errors import SelfFollowError
from application.profiles.follow_relation import FollowCommand, load_pair, profile_view
from application.profiles.ports import ProfileView
from application.users.ports import UserRepository


@audited("user.follow", target="user")
class FollowUser:
    """Follow a user.

    Rules:
    - The user must exist (`ProfileNotFoundError`).
    - Nobody may follow themselves (`SelfFollowError`): a rule about the caller, which
      no schema of the request can state.
    - Following twice is harmless: the second time changes nothing and raises no event.
    """

    def __init__(self, uow: UnitOfWork, users: UserRepository, clock: Clock) -> None:
        self._uow = uow
        self._users = users
        self._clock = clock

    async def __call__(self, command: FollowCommand) -> ProfileView:
        """Record the follow and return the profile as the follower now sees it."""
        async with self._uow:
            follower, followee = await load_pair(self._users, command)
            identify_target(followee.id)
            if follower.id == followee.id:
                raise SelfFollowError
            now = self._clock.now()
            follower.follow(followee, now=now)
            if await self._users.add_follow(follower.id, followee.id, at=now):
                self._uow.track(follower)
            await self._uow.commit()
        return profile_view(followee, following=True)
