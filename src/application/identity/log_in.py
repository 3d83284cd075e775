"""Use case: sign in with email and password."""

import logging
from dataclasses import dataclass, field

from application.common.errors import (
    DependencyUnavailableError,
    InvalidCredentialsError,
    TooManyRequestsError,
)
from application.identity.authenticated_user import AuthenticatedUser
from application.identity.errors import AccountBannedError
from application.identity.session_policy import ClientInfo, SessionPolicy, open_session
from application.ports.persistence import SessionRepository, UnitOfWork, UserRepository
from application.ports.security import (
    PasswordHasher,
    RateLimit,
    RateLimiter,
    RateLimiterUnavailableError,
    SecretTokens,
    TokenIssuer,
)
from application.ports.system import Clock, IdGenerator
from domain.shared.errors import DomainError
from domain.users.values import BLANK, Email, Password

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginThrottle:
    """How many failed sign-ins an account may take per window.

    `fail_open` says what to do when the limiter cannot be reached: let sign-ins through,
    or refuse them until it is back.
    """

    failures: RateLimit
    fail_open: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class LogInCommand:
    """The credentials, as typed, and where they come from."""

    email: str
    password: str = field(repr=False)
    client: ClientInfo = field(default_factory=ClientInfo)


class LogIn:
    """Check the credentials and issue an access token.

    Rules:
    - A blank email or password is a 422 naming the field; anything else that is wrong is
      one answer, "credentials invalid", whether the account exists or not, and it takes
      as long either way.
    - The password policy is not applied here, so accounts made under an older policy can
      still sign in.
    - A banned account is refused after its password checked out.
    - An account that failed too often within the window is refused (429) before its
      password is checked, whether or not the new attempt is right. Every attempt is
      counted before it is checked and a success gives its count back, so only failures
      add up, and parallel guesses cannot overrun the limit.
    - A hash made with weaker parameters than today's is replaced on a successful sign-in.
    - Each successful sign-in opens a session with its own rotating refresh token.
    - The account is read and its password checked before the transaction opens, so no
      transaction, and none of its snapshot, is held while the hash waits for a thread.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        users: UserRepository,
        hasher: PasswordHasher,
        tokens: TokenIssuer,
        limiter: RateLimiter,
        throttle: LoginThrottle,
        sessions: SessionRepository,
        secrets: SecretTokens,
        session_policy: SessionPolicy,
        clock: Clock,
        ids: IdGenerator,
    ) -> None:
        self._uow = uow
        self._users = users
        self._hasher = hasher
        self._tokens = tokens
        self._limiter = limiter
        self._throttle = throttle
        self._sessions = sessions
        self._secrets = secrets
        self._session_policy = session_policy
        self._clock = clock
        self._ids = ids

    async def __call__(self, command: LogInCommand) -> AuthenticatedUser:
        """Authenticate and return the account with a new access token."""
        if not command.email.strip():
            raise DomainError(BLANK, field="email")
        if not command.password:
            raise DomainError(BLANK, field="password")
        try:
            email = Email.parse(command.email)
        except DomainError:
            email = None
        password = _AnyPassword.parse(command.password)
        throttle_key = f"login-failures:{email or command.email.strip().lower()}"
        reserved = await self._reserve_attempt(throttle_key)
        user = await self._users.get_by_email(email) if email else None
        matches = await self._hasher.verify(user.password_hash if user else None, password)
        if user is None or not matches:
            raise InvalidCredentialsError("invalid")
        if reserved:
            await self._refund_attempt(throttle_key)
        if user.is_banned:
            raise AccountBannedError
        async with self._uow:
            if self._hasher.needs_rehash(user.password_hash):
                user.rehash_password(await self._hasher.hash(password))
                await self._users.save(user)
            session, refresh_token = await open_session(
                user_id=user.id,
                client=command.client,
                sessions=self._sessions,
                secrets=self._secrets,
                policy=self._session_policy,
                clock=self._clock,
                ids=self._ids,
            )
            user.signed_in(
                session_id=str(session.id),
                device=session.device,
                ip=session.ip,
                now=self._clock.now(),
            )
            self._uow.track(user)
            await self._uow.commit()
        token = self._tokens.issue_access_token(
            user_id=user.id, role=user.role, session_id=session.id
        )
        return AuthenticatedUser.of(user, token, refresh_token)

    async def _reserve_attempt(self, key: str) -> bool:
        """Count the attempt before checking it; False when the limiter is down and open.

        Parallel guesses therefore cannot all slip in under the limit; a successful sign-in
        gives its count back.
        """
        try:
            decision = await self._limiter.acquire(key, self._throttle.failures)
        except RateLimiterUnavailableError as exc:
            if self._throttle.fail_open:
                _log.warning("sign-in limiter unavailable (%s); failing open", exc)
                return False
            _log.error("sign-in limiter unavailable (%s); failing closed", exc)
            raise DependencyUnavailableError(
                "is unavailable; try again shortly", field="rate_limit"
            ) from exc
        if not decision.allowed:
            raise TooManyRequestsError(decision.retry_after_seconds)
        return True

    async def _refund_attempt(self, key: str) -> None:
        try:
            await self._limiter.refund(key, self._throttle.failures)
        except RateLimiterUnavailableError as exc:
            _log.warning("could not give back a successful sign-in's count (%s)", exc)


class _AnyPassword(Password):
    """A password as typed at sign-in.

    It is normalized as at registration (NFKC), then checked against the hash only, never
    against the policy.
    """

    __slots__ = ()

    def __post_init__(self) -> None:
        """Accept anything; the hash decides."""
