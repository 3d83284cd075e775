"""Use case: open a new account."""

from dataclasses import dataclass, field

from application.common.ports.clock import Clock
from application.common.ports.ids import IdGenerator
from application.common.ports.opaque_tokens import OpaqueTokens
from application.common.ports.unit_of_work import UnitOfWork
from application.users.authenticated_user import AuthenticatedUser
from application.users.log_in import SignedIn
from application.users.new_account import open_account
from application.users.one_time_tokens import OneTimeTokenMailer
from application.users.ports import (
    DeviceTrust,
    PasswordHasher,
    SessionRepository,
    TokenIssuer,
    UserRepository,
)
from application.users.session_policy import ClientInfo, SessionPolicy, open_session
from domain.users.one_time_token import TokenPurpose


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterUserCommand:
    """The new account's username, email and password, as typed."""

    username: str
    email: str
    password: str = field(repr=False)
    client: ClientInfo = field(default_factory=ClientInfo)


class RegisterUser:
    """Register a user and sign them in.

    Rules:
    - The username, email and password must each be valid; the first invalid one is named.
    - The username must be free, ignoring case; the email must be free after normalizing.
    - The password is hashed before anything is stored; the plain text is never kept.
    - The new account has the `user` role; `UserRegistered` is written with it.
    - A verification link is mailed once the account is committed.
    - The new user is signed in: a session is opened, as at login, and the client gets a
      device token for the account, so it is a known device at its next sign-in.
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
        secrets: OpaqueTokens,
        token_mailer: OneTimeTokenMailer,
        sessions: SessionRepository,
        session_policy: SessionPolicy,
        devices: DeviceTrust,
    ) -> None:
        self._devices = devices
        self._sessions = sessions
        self._session_policy = session_policy
        self._secrets = secrets
        self._token_mailer = token_mailer
        self._uow = uow
        self._users = users
        self._hasher = hasher
        self._tokens = tokens
        self._clock = clock
        self._ids = ids

    async def __call__(self, command: RegisterUserCommand) -> SignedIn:
        """Create the account and return it with access, refresh and device tokens."""
        async with self._uow:
            user = await open_account(
                username=command.username,
                email=command.email,
                password=command.password,
                users=self._users,
                hasher=self._hasher,
                clock=self._clock,
                ids=self._ids,
            )
            verification = await self._token_mailer.issue(user, TokenPurpose.VERIFY_EMAIL)
            session, refresh_token = await open_session(
                user_id=user.id,
                client=command.client,
                sessions=self._sessions,
                secrets=self._secrets,
                policy=self._session_policy,
                clock=self._clock,
                ids=self._ids,
            )
            self._uow.track(user)
            await self._uow.commit()
        await self._token_mailer.send(verification)
        token = self._tokens.issue_access_token(
            user_id=user.id, role=user.role, session_id=session.id
        )
        return SignedIn.of_sign_in(
            AuthenticatedUser.of(user, token, refresh_token), self._devices.issue(str(user.email))
        )
