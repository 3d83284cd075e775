"""Use case: stop following another user."""

from application.audit.capture import audited, identify_target
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.profiles.follow_relation import FollowCommand, load_pair, profile_view
from application.profiles.ports import ProfileView
from application.users.ports import UserRepository


@audited("user.unfollow", target="user")
class UnfollowUser:
    """Stop following a user.

    Rules:
    - The user must exist (`ProfileNotFoundError`).
    - Unfollowing someone not followed is harmless and raises no event; that includes
      oneself, whom nobody can follow.
    """

    def __init__(self, uow: UnitOfWork, users: UserRepository, clock: Clock) -> None:
        self._uow = uow
        self._users = users
        self._clock = clock

    async def __call__(self, command: FollowCommand) -> ProfileView:
        """Remove the follow and return the profile as the caller now sees it."""
        async with self._uow:
            follower, followee = await load_pair(self._users, command)
            identify_target(followee.id)
            if await self._users.remove_follow(follower.id, followee.id):
                follower.unfollow(followee, now=self._clock.now())
                self._uow.track(follower)
            await self._uow.commit()
        return profile_view(followee, following=False)
