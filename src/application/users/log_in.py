"""Use case: sign in with email and password."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from application.audit.capture import audited, identify_target
from application.common.errors import (
    DependencyUnavailableError,
    InvalidCredentialsError,
    TooManyRequestsError,
)
from application.common.ports.metrics import LoginMetrics, LoginOutcome
from application.common.ports.rate_limits import RateLimit, RateLimiter, RateLimiterUnavailableError
from application.common.ports.unit_of_work import UnitOfWork
from application.users.authenticated_user import SignedIn
from application.users.errors import AccountBannedError
from application.users.ports import DeviceTrust, PasswordHasher, UserRepository
from application.users.session_opener import SessionOpener
from application.users.session_policy import ClientInfo
from domain.shared.errors import DomainError
from domain.users.user import User
from domain.users.values import BLANK, Email, TypedPassword

_log = logging.getLogger(__name__)

_Counter = tuple[str, RateLimit]


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginThrottle:
    """How many failed sign-ins an account may take, and from whom.

    - `per_client` is strict: per account and known device for a client that presents the
      account's device token, else per account and client IP.
    - `untrusted` is looser: per account, for every client without its device token together.
      It refills steadily, so it slows a guesser with many addresses down to its rate, while
      the owner's known devices are never counted against it.

    `fail_open` says what to do when the limiter cannot be reached: let sign-ins through,
    or refuse them until it is back.
    """

    per_client: RateLimit
    untrusted: RateLimit
    fail_open: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class LogInCommand:
    """The credentials, as typed, where they come from, and the device token presented."""

    email: str
    password: str = field(repr=False)
    client: ClientInfo = field(default_factory=ClientInfo)
    device_token: str | None = field(default=None, repr=False)


@audited("user.login", target="user")
class LogIn:
    """Check the credentials and issue an access token.

    Rules:
    - A blank email or password is a `DomainError` naming the field; anything else that is
      wrong is one answer, `InvalidCredentialsError`, whether the account exists or not, and
      it takes as long either way.
    - The password policy is not applied here, so accounts made under an older policy can
      still sign in.
    - A banned account is refused (`AccountBannedError`) after its password checked out.
    - Failures are limited (`TooManyRequestsError`, before the password is checked,
      whether or not the new attempt is right) so that guessing is slow and nobody else
      can lock the owner out:
      - a client presenting a device token it was given at an earlier sign-in with this
        email is limited only per account and device, strictly;
      - any other client is limited per account and client IP, strictly, and per account
        for all such clients together, more loosely.
      The account is the email as typed (normalized when valid), so an unknown email is
      limited the same way, and which limits apply is decided before anything is read.
    - Every attempt is counted before it is checked and a success gives its counts back,
      so only failures add up, and parallel guesses cannot overrun a limit. An attempt
      refused by one limit gives back what the others counted.
    - A hash made with weaker parameters than today's is replaced on a successful sign-in.
    - Each successful sign-in opens a session with its own rotating refresh token, and
      gives the client a new device token for the account.
    - Every attempt is counted by how it ended: a success, a failure (wrong credentials or
      a banned account), or locked (refused by the limits).
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        users: UserRepository,
        hasher: PasswordHasher,
        limiter: RateLimiter,
        throttle: LoginThrottle,
        devices: DeviceTrust,
        session_opener: SessionOpener,
        metrics: LoginMetrics,
    ) -> None:
        self._uow = uow
        self._users = users
        self._hasher = hasher
        self._limiter = limiter
        self._throttle = throttle
        self._devices = devices
        self._session_opener = session_opener
        self._metrics = metrics

    async def __call__(self, command: LogInCommand) -> SignedIn:
        """Authenticate and return the account with new access, refresh and device tokens.

        The account is read and its password checked before the transaction opens, so no
        transaction, and none of its snapshot, is held while the hash waits for a thread.
        """
        try:
            signed_in = await self._log_in(command)
        except TooManyRequestsError:
            self._metrics.login_attempted(LoginOutcome.LOCKED)
            raise
        except (InvalidCredentialsError, AccountBannedError):
            self._metrics.login_attempted(LoginOutcome.FAILURE)
            raise
        self._metrics.login_attempted(LoginOutcome.SUCCESS)
        return signed_in

    async def _log_in(self, command: LogInCommand) -> SignedIn:
        if not command.email.strip():
            raise DomainError(BLANK, field="email")
        if not command.password:
            raise DomainError(BLANK, field="password")
        try:
            email = Email.parse(command.email)
        except DomainError:
            email = None
        password = TypedPassword.parse(command.password)
        account = str(email) if email else command.email.strip().lower()
        counted = await self._count_attempt(self._counters(account, command))
        user = await self._users.get_by_email(email) if email else None
        if user is not None:
            identify_target(user.id)
        matches = await self._hasher.verify(user.password_hash if user else None, password)
        if user is None or not matches:
            raise InvalidCredentialsError("invalid")
        await self._give_back(counted)
        if user.is_banned:
            raise AccountBannedError
        async with self._uow:
            if self._hasher.needs_rehash(user.password_hash):
                await self._upgrade_password_hash(user, password)
            opened = await self._session_opener.sign_in(user, command.client)
            self._uow.track(user)
            await self._uow.commit()
        return self._session_opener.hand_over(user, opened, account=account)

    def _counters(self, account: str, command: LogInCommand) -> tuple[_Counter, ...]:
        """The limits this attempt counts against: its known device's, or its address's."""
        device = (
            self._devices.device_of(command.device_token, account) if command.device_token else None
        )
        if device is not None:
            return ((f"login-failures:device:{device}:{account}", self._throttle.per_client),)
        return (
            (f"login-failures:ip:{command.client.ip}:{account}", self._throttle.per_client),
            (f"login-failures:untrusted:{account}", self._throttle.untrusted),
        )

    async def _count_attempt(self, counters: Sequence[_Counter]) -> list[_Counter]:
        """Count the attempt before checking it; return what was counted, to give back.

        Parallel guesses therefore cannot all slip in under a limit. When the limiter is
        down and the throttle fails open, the attempt goes on with what was counted.
        """
        counted: list[_Counter] = []
        try:
            for key, rate in counters:
                decision = await self._limiter.acquire(key, rate)
                if not decision.allowed:
                    await self._give_back(counted)
                    raise TooManyRequestsError(decision.retry_after_seconds)
                counted.append((key, rate))
        except RateLimiterUnavailableError as exc:
            if self._throttle.fail_open:
                _log.warning("sign-in limiter unavailable (%s); failing open", exc)
                return counted
            _log.error("sign-in limiter unavailable (%s); failing closed", exc)
            raise DependencyUnavailableError(
                "is unavailable; try again shortly", field="rate_limit"
            ) from exc
        return counted

    async def _give_back(self, counted: Sequence[_Counter]) -> None:
        for key, rate in counted:
            try:
                await self._limiter.refund(key, rate)
            except RateLimiterUnavailableError as exc:
                _log.warning("could not give back a sign-in's count (%s)", exc)
                return

    async def _upgrade_password_hash(self, user: User, password: TypedPassword) -> None:
        """Store the password hashed with today's parameters, unless it changed meanwhile.

        The account is read again under its lock: the hash verified above was read before
        the transaction, and a password or email changed since must not be written over.
        """
        locked = await self._users.get(user.id, for_update=True)
        if locked is None or locked.password_hash != user.password_hash:
            return
        locked.rehash_password(await self._hasher.hash(password))
        await self._users.save(locked)
