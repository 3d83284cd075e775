"""What registering a user and creating an administrator share: opening an account."""

from application.common.ports.clock import Clock
from application.common.ports.ids import IdGenerator
from application.users.errors import EmailTakenError, UsernameTakenError
from application.users.ports import PasswordHasher, UserRepository
from domain.users.user import User
from domain.users.values import Email, Password, Role, UserId, Username


class AccountOpener:
    """Creates accounts, with the checks every new account passes.

    Rules:
    - The username, email and password must each be valid; the first invalid one is named.
    - The username must be free, ignoring case; the email must be free after normalizing.
    - The password is hashed before anything is stored; the plain text is never kept.
    """

    def __init__(
        self,
        *,
        users: UserRepository,
        hasher: PasswordHasher,
        clock: Clock,
        ids: IdGenerator,
    ) -> None:
        self._users = users
        self._hasher = hasher
        self._clock = clock
        self._ids = ids

    async def open(
        self, *, username: str, email: str, password: str, role: Role = Role.USER
    ) -> User:
        """Validate, check that the username and email are free, hash, and store a new user.

        Runs in the caller's unit of work, which is to track the user it returns.
        """
        valid_username = Username(username)
        valid_email = Email.parse_deliverable(email)
        valid_password = Password.parse(password)
        if await self._users.username_taken(valid_username):
            raise UsernameTakenError
        if await self._users.get_by_email(valid_email) is not None:
            raise EmailTakenError
        user = User.register(
            id=UserId(self._ids.new_id()),
            username=valid_username,
            email=valid_email,
            password_hash=await self._hasher.hash(valid_password),
            now=self._clock.now(),
        )
        user.assign_role(role, now=user.created_at)
        await self._users.add(user)
        return user
