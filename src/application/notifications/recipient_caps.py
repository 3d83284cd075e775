"""Per-recipient hourly caps on email and SMS, counted where messages are actually sent."""

import logging
import re
from dataclasses import dataclass

from application.common.ports.rate_limits import RateLimit, RateLimiter, RateLimiterUnavailableError
from domain.notifications.notification import Channel

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageCaps:
    """How many messages one address or number may get per hour, by kind of message.

    Security notices are counted apart from everything else, at a higher cap, so a flood
    of ordinary mail can never crowd out the notice that an account is being taken over.
    """

    email: RateLimit
    security_email: RateLimit
    sms: RateLimit
    security_sms: RateLimit


def normalized_recipient(channel: Channel, recipient: str) -> str:
    """The form a cap is counted under: one address or number, however it was written."""
    if channel is Channel.SMS:
        return "+" + re.sub(r"\D", "", recipient)
    return recipient.strip().lower()


def masked_recipient(channel: Channel, recipient: str) -> str:
    """Enough of the recipient for an operator to recognise it, not to harvest it."""
    normal = normalized_recipient(channel, recipient)
    if channel is Channel.SMS:
        return normal[:2] + "*" * max(0, len(normal) - 4) + normal[-2:]
    local, _, domain = normal.partition("@")
    return f"{local[:1]}***@{domain}"


class RecipientCaps:
    """Counts a message against its recipient's cap just before it is sent.

    Rules:
    - Only email and SMS are capped; a message over its cap is not sent (the caller records
      why) and is not retried: the next hour brings new room, not a backlog.
    - When the limiter is down, email fails open (it is sent, and a warning logged): the
      triggers of ordinary mail are rate-limited themselves, a worker needs Redis anyway to
      get its jobs in service mode, and a lost security notice or reset link costs more
      than one uncapped email. SMS fails closed: `RateLimiterUnavailableError` propagates,
      so the delivery fails and the queue retries it later; texts cost money.
    """

    def __init__(self, limiter: RateLimiter, caps: MessageCaps) -> None:
        self._limiter = limiter
        self._caps = caps

    async def admit(self, channel: Channel, recipient: str, *, security: bool) -> bool:
        """Count one message to `recipient`; False when that is over the cap."""
        key, rate = self._counter(channel, recipient, security=security)
        try:
            decision = await self._limiter.acquire(key, rate)
        except RateLimiterUnavailableError as exc:
            if channel is Channel.SMS:
                raise
            _log.warning("message cap limiter unavailable (%s); sending the email uncapped", exc)
            return True
        return decision.allowed

    async def release(self, channel: Channel, recipient: str, *, security: bool) -> None:
        """Give back a message counted by `admit` that was not sent after all (best effort)."""
        key, rate = self._counter(channel, recipient, security=security)
        try:
            await self._limiter.refund(key, rate)
        except RateLimiterUnavailableError as exc:
            _log.warning("could not give back a message cap (%s)", exc)

    def _counter(
        self, channel: Channel, recipient: str, *, security: bool
    ) -> tuple[str, RateLimit]:
        if channel is Channel.EMAIL:
            rate = self._caps.security_email if security else self._caps.email
        elif channel is Channel.SMS:
            rate = self._caps.security_sms if security else self._caps.sms
        else:
            raise ValueError(f"the {channel.value} channel has no per-recipient cap")
        prefix = f"{'security-' if security else ''}{channel.value}-to"
        return f"{prefix}:{normalized_recipient(channel, recipient)}", rate
