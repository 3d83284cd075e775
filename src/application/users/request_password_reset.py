"""Use case: mail a password-reset link."""

import logging
from dataclasses import dataclass

from application.audit.capture import audited
from application.common.errors import TooManyRequestsError
from application.common.ports.rate_limits import RateLimit, RateLimiter, RateLimiterUnavailableError
from application.common.ports.task_queue import TaskQueue
from application.common.ports.unit_of_work import UnitOfWork
from application.users.issue_password_reset import ISSUE_PASSWORD_RESET
from domain.shared.errors import DomainError
from domain.users.values import BLANK, Email

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResetThrottle:
    """How many reset links one email address may ask for per window."""

    per_account: RateLimit


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestPasswordResetCommand:
    """The email the link should go to, as typed."""

    email: str


@audited("user.password_reset_request", target="user")
class RequestPasswordReset:
    """Accept a reset request; the lookup and the email happen later, in a job.

    Rules:
    - The answer, and the work done before it, are the same whether or not the account
      exists: the request only validates, counts and enqueues.
    - The address must be one mail can be sent to as written (`Email.parse_deliverable`).
    - Each email may ask a set number of times per window; more is
      `TooManyRequestsError`, for any address.
    - When the limiter cannot be reached, the request is accepted (and logged).
    - The audit entry names no account: none is looked up here. The job's own entry
      (`user.password_reset_issue`) names the account it mailed, if any.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        queue: TaskQueue,
        limiter: RateLimiter,
        throttle: ResetThrottle,
    ) -> None:
        self._uow = uow
        self._queue = queue
        self._limiter = limiter
        self._throttle = throttle

    async def __call__(self, command: RequestPasswordResetCommand) -> None:
        """Validate, count, enqueue; the commit writes only the audit entry."""
        if not command.email.strip():
            raise DomainError(BLANK, field="email")
        email = Email.parse_deliverable(command.email)
        try:
            decision = await self._limiter.acquire(
                f"password-reset:{email}", self._throttle.per_account
            )
        except RateLimiterUnavailableError as exc:
            _log.warning("reset limiter unavailable (%s); accepting the request", exc)
        else:
            if not decision.allowed:
                raise TooManyRequestsError(decision.retry_after_seconds)
        async with self._uow:
            await self._queue.enqueue(ISSUE_PASSWORD_RESET, {"email": str(email)})
            await self._uow.commit()
