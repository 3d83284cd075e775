"""What following and unfollowing share: the command, and loading the two users."""

from dataclasses import dataclass

from application.common.errors import AuthenticationRequiredError
from application.common.identity import Identity
from application.profiles.errors import ProfileNotFoundError
from application.profiles.ports import ProfileView
from application.users.ports import UserRepository
from domain.users.user import User


@dataclass(frozen=True, slots=True, kw_only=True)
class FollowCommand:
    """Who follows (or unfollows) whom."""

    actor: Identity
    username: str


async def load_pair(users: UserRepository, command: FollowCommand) -> tuple[User, User]:
    """The follower (the caller) and the followee (by username), or the matching error."""
    followee = await users.get_by_username(command.username)
    if followee is None:
        raise ProfileNotFoundError
    follower = await users.get(command.actor.user_id)
    if follower is None:
        raise AuthenticationRequiredError("is invalid")
    return follower, followee


def profile_view(user: User, *, following: bool) -> ProfileView:
    """How the caller sees `user` after the change."""
    return ProfileView(
        username=str(user.username),
        bio=user.profile.bio,
        image=user.profile.image,
        following=following,
    )
