"""Use case: open a new account."""

from dataclasses import dataclass, field

from application.identity.authenticated_user import AuthenticatedUser
from application.identity.errors import EmailTakenError, UsernameTakenError
from application.ports.persistence import UnitOfWork, UserRepository
from application.ports.security import PasswordHasher, TokenIssuer
from application.ports.system import Clock, IdGenerator
from domain.users.user import User
from domain.users.values import Email, Password, UserId, Username


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterUserCommand:
    """The new account's username, email and password, as typed."""

    username: str
    email: str
    password: str = field(repr=False)


class RegisterUser:
    """Register a user and sign them in.

    Rules:
    - The username, email and password must each be valid; the first invalid one is named.
    - The username must be free, ignoring case; the email must be free after normalizing.
    - The password is hashed before anything is stored; the plain text is never kept.
    - The new account has the `user` role; `UserRegistered` is written with it.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        users: UserRepository,
        hasher: PasswordHasher,
        tokens: TokenIssuer,
        clock: Clock,
        ids: IdGenerator,
    ) -> None:
        self._uow = uow
        self._users = users
        self._hasher = hasher
        self._tokens = tokens
        self._clock = clock
        self._ids = ids

    async def __call__(self, command: RegisterUserCommand) -> AuthenticatedUser:
        """Create the account and return it with an access token."""
        username = Username(command.username)
        email = Email.parse(command.email)
        password = Password.parse(command.password)
        async with self._uow:
            if await self._users.username_taken(username):
                raise UsernameTakenError
            if await self._users.get_by_email(email) is not None:
                raise EmailTakenError
            user = User.register(
                id=UserId(self._ids.new_id()),
                username=username,
                email=email,
                password_hash=await self._hasher.hash(password),
                now=self._clock.now(),
            )
            await self._users.add(user)
            self._uow.track(user)
            await self._uow.commit()
        token = self._tokens.issue_access_token(user_id=user.id, role=user.role)
        return AuthenticatedUser.of(user, token)
