"""Users and follows in the in-memory database."""

from datetime import datetime

from adapters.memory.database import InMemoryDatabase, detached
from application.users.errors import EmailTakenError, UsernameTakenError
from application.users.ports import UserRepository
from domain.users.user import User
from domain.users.values import Email, UserId, Username

USERS = "users"
FOLLOWS = "follows"


class InMemoryUserRepository(UserRepository):
    """The `UserRepository` port over the in-memory database; stores copies, like a database."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    @property
    def _users(self) -> dict[UserId, User]:
        return self._database.table(USERS)

    @property
    def _follows(self) -> dict[tuple[UserId, UserId], datetime]:
        return self._database.table(FOLLOWS)

    async def add(self, user: User) -> None:
        """Store a new user, refusing a taken username or email."""
        self._ensure_unique(user)
        self._users[user.id] = detached(user)

    async def save(self, user: User) -> None:
        """Replace the stored user, refusing a taken username or email."""
        self._ensure_unique(user)
        self._users[user.id] = detached(user)

    async def get(
        self,
        user_id: UserId,
        *,
        for_update: bool = False,  # noqa: ARG002 - the unit of work already serializes
    ) -> User | None:
        """A copy of the stored user."""
        user = self._users.get(user_id)
        return detached(user) if user else None

    async def get_by_email(self, email: Email) -> User | None:
        """A copy of the user with this email."""
        return next((detached(u) for u in self._users.values() if u.email == email), None)

    async def get_by_username(
        self,
        username: str,
        *,
        for_update: bool = False,  # noqa: ARG002 - the unit of work already serializes
    ) -> User | None:
        """A copy of the user with exactly this username."""
        if not Username.could_exist(username):
            return None
        return next(
            (detached(u) for u in self._users.values() if str(u.username) == username), None
        )

    async def username_taken(self, username: Username) -> bool:
        """Whether a user has this username, ignoring case."""
        wanted = str(username).lower()
        return any(str(u.username).lower() == wanted for u in self._users.values())

    async def add_follow(self, follower: UserId, followee: UserId, *, at: datetime) -> bool:
        """Record the follow; False if it existed."""
        if (follower, followee) in self._follows:
            return False
        self._follows[follower, followee] = at
        return True

    async def remove_follow(self, follower: UserId, followee: UserId) -> bool:
        """Forget the follow; False if there was none."""
        return self._follows.pop((follower, followee), None) is not None

    def _ensure_unique(self, user: User) -> None:
        for other in self._users.values():
            if other.id == user.id:
                continue
            if str(other.username).lower() == str(user.username).lower():
                raise UsernameTakenError
            if other.email == user.email:
                raise EmailTakenError
