"""Use case: mail a fresh verification link to the caller's address."""

import logging
from dataclasses import dataclass

from application.audit.capture import audited
from application.common.errors import (
    AuthenticationRequiredError,
    DependencyUnavailableError,
    TooManyRequestsError,
)
from application.common.identity import Identity
from application.common.ports.rate_limits import RateLimit, RateLimiter, RateLimiterUnavailableError
from application.common.ports.unit_of_work import UnitOfWork
from application.users.one_time_tokens import OneTimeTokenMailer
from application.users.ports import UserRepository
from domain.users.one_time_token import TokenPurpose

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResendVerificationPolicy:
    """How many verification links one account may ask for per window."""

    per_account: RateLimit


@dataclass(frozen=True, slots=True, kw_only=True)
class ResendVerificationCommand:
    """The caller."""

    actor: Identity


@audited("user.verification_resend", target="user", target_id=lambda command: command.actor.user_id)
class ResendVerification:
    """Send another verification link.

    Rules:
    - Only to the caller's own, current address; an already verified one gets nothing.
    - Resends are limited per account (`TooManyRequestsError` beyond, with when to
      retry), whatever address or client asks: pointing an account at a stranger's
      address and resending in a loop must not turn Portico into a mail cannon. When the
      limiter is down, nothing is sent (`DependencyUnavailableError`): the caller can ask
      again, a stranger cannot unsend.
    - Earlier links stay valid until they expire or one of them is used.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        users: UserRepository,
        token_mailer: OneTimeTokenMailer,
        limiter: RateLimiter,
        policy: ResendVerificationPolicy,
    ) -> None:
        self._uow = uow
        self._users = users
        self._token_mailer = token_mailer
        self._limiter = limiter
        self._policy = policy

    async def __call__(self, command: ResendVerificationCommand) -> None:
        """Issue and mail a link unless the address is verified."""
        async with self._uow:
            user = await self._users.get(command.actor.user_id)
            if user is None:
                raise AuthenticationRequiredError("is invalid")
            if user.email_verified_at is not None:
                return
            await self._throttle(f"verification-resends:{user.id}")
            message = await self._token_mailer.issue(user, TokenPurpose.VERIFY_EMAIL)
            await self._uow.commit()
        await self._token_mailer.send(message)

    async def _throttle(self, key: str) -> None:
        try:
            decision = await self._limiter.acquire(key, self._policy.per_account)
        except RateLimiterUnavailableError as exc:
            _log.error("verification resend limiter unavailable (%s); refusing to send", exc)
            raise DependencyUnavailableError(
                "is unavailable; try again shortly", field="rate_limit"
            ) from exc
        if not decision.allowed:
            raise TooManyRequestsError(decision.retry_after_seconds)
