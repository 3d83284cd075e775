"""Step-up: sensitive changes need a recent proof of the password."""

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from application.common.errors import PermissionDeniedError, TooManyRequestsError
from application.common.ports.rate_limits import RateLimit, RateLimiter, RateLimiterUnavailableError
from application.users.ports import PasswordHasher, SessionRepository
from domain.users.user import User
from domain.users.values import TypedPassword

_log = logging.getLogger(__name__)

CURRENT_PASSWORD = "currentPassword"  # noqa: S105 - the field's name
"""The request field that carries the proof, and the key its errors are reported under."""


class StepUpRequiredError(PermissionDeniedError):
    """The change needs the current password, and it was missing or wrong."""

    field = CURRENT_PASSWORD


@dataclass(frozen=True, slots=True, kw_only=True)
class StepUpPolicy:
    """How long after a sign-in the session itself counts as proof of the password.

    A session opens only when the password is checked (sign-in, registration), so its
    opening time is when the password was last proven through it; refreshing it proves
    nothing.
    """

    window: timedelta
    failures: RateLimit


async def require_recent_password(
    *,
    user: User,
    session_id: UUID | None,
    current_password: str | None,
    policy: StepUpPolicy,
    sessions: SessionRepository,
    hasher: PasswordHasher,
    limiter: RateLimiter,
    now: datetime,
) -> None:
    """Pass when `current_password` matches, or the session proved it within the window.

    A wrong password is refused outright, even inside the window: whoever sends one is
    guessing. Guesses are counted per account, as failed sign-ins are, so a stolen token
    cannot be used to try passwords faster than the sign-in form allows; when the
    limiter is down the check still runs, bounded by the hash's cost.
    """
    if current_password is not None:
        key = f"step-up-failures:{user.id}"
        try:
            decision = await limiter.acquire(key, policy.failures)
        except RateLimiterUnavailableError as exc:
            _log.warning("step-up limiter unavailable (%s); checking anyway", exc)
            counted = False
        else:
            if not decision.allowed:
                raise TooManyRequestsError(decision.retry_after_seconds)
            counted = True
        if not await hasher.verify(user.password_hash, TypedPassword.parse(current_password)):
            raise StepUpRequiredError("is incorrect")
        if counted:
            with contextlib.suppress(RateLimiterUnavailableError):
                await limiter.refund(key, policy.failures)
        return
    session = await sessions.get(session_id) if session_id is not None else None
    if session is None or now - session.created_at > policy.window:
        raise StepUpRequiredError("is required to change the email or password")
