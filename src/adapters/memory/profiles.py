"""Profiles in the in-memory database, read from the tables the user repository writes."""

from adapters.memory.database import InMemoryDatabase
from adapters.memory.users import FOLLOWS, USERS
from application.profiles.ports import ProfileReader, ProfileView
from domain.users.user import User
from domain.users.values import UserId, Username


class InMemoryProfileReader(ProfileReader):
    """The `ProfileReader` port over the in-memory database."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    async def by_username(self, username: str, *, viewer: UserId | None) -> ProfileView | None:
        """The profile, and whether `viewer` follows it."""
        if not Username.could_exist(username):
            return None
        users: dict[UserId, User] = self._database.table(USERS)
        user = next((u for u in users.values() if str(u.username) == username), None)
        if user is None:
            return None
        follows = self._database.table(FOLLOWS)
        return ProfileView(
            username=str(user.username),
            bio=user.profile.bio,
            image=user.profile.image,
            following=viewer is not None and (viewer, user.id) in follows,
        )
