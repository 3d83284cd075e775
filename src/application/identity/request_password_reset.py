"""Use case: mail a password-reset link."""

from dataclasses import dataclass

from application.common.errors import TooManyRequestsError
from application.identity.one_time_tokens import OneTimeTokenPolicy, issue_token, send_after_commit
from application.ports.messaging import TaskQueue
from application.ports.persistence import OneTimeTokenRepository, UnitOfWork, UserRepository
from application.ports.security import (
    RateLimit,
    RateLimiter,
    RateLimiterUnavailableError,
    SecretTokens,
)
from application.ports.system import Clock
from domain.shared.errors import DomainError
from domain.users.one_time_token import TokenPurpose
from domain.users.values import BLANK, Email


@dataclass(frozen=True, slots=True, kw_only=True)
class ResetThrottle:
    """How many reset links one email address may ask for per window."""

    per_account: RateLimit


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestPasswordResetCommand:
    """The email the link should go to, as typed."""

    email: str


class RequestPasswordReset:
    """Send a reset link if the email has an account.

    Rules:
    - The answer is the same whether or not the account exists, and the work done before
      answering is the same too (the email itself goes out later, from the queue).
    - Banned accounts get no link.
    - Each email may ask a set number of times per window; more is 429, for any address.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        users: UserRepository,
        tokens: OneTimeTokenRepository,
        secrets: SecretTokens,
        queue: TaskQueue,
        limiter: RateLimiter,
        throttle: ResetThrottle,
        policy: OneTimeTokenPolicy,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._users = users
        self._tokens = tokens
        self._secrets = secrets
        self._queue = queue
        self._limiter = limiter
        self._throttle = throttle
        self._policy = policy
        self._clock = clock

    async def __call__(self, command: RequestPasswordResetCommand) -> None:
        """Maybe issue a token; always return the same way."""
        if not command.email.strip():
            raise DomainError(BLANK, field="email")
        email = Email.parse(command.email)
        try:
            decision = await self._limiter.acquire(
                f"password-reset:{email}", self._throttle.per_account
            )
        except RateLimiterUnavailableError:
            decision = None
        if decision is not None and not decision.allowed:
            raise TooManyRequestsError(decision.retry_after_seconds)
        async with self._uow:
            user = await self._users.get_by_email(email)
            if user is None or user.is_banned:
                return
            message = await issue_token(
                user=user,
                purpose=TokenPurpose.RESET_PASSWORD,
                tokens=self._tokens,
                secrets=self._secrets,
                policy=self._policy,
                clock=self._clock,
            )
            await self._uow.commit()
        await send_after_commit(self._queue, message)
