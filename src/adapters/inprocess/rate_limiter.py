"""A rate limiter in process memory: exact GCRA, for one process (tests, embedded mode)."""

import math

from application.common.ports.clock import Clock
from application.common.ports.rate_limits import RateLimit, RateLimitDecision, RateLimiter


def gcra(
    *, now: float, tat: float | None, rate: RateLimit
) -> tuple[RateLimitDecision, float | None]:
    """The generic cell rate algorithm: one stored instant per key.

    That instant is the theoretical arrival time. Returns the decision and the new instant
    to store (None: store nothing).
    """
    interval = rate.window_seconds / rate.limit
    start = max(tat if tat is not None else now, now)
    candidate = start + interval
    allow_at = candidate - rate.window_seconds
    if now < allow_at:
        retry = max(1, math.ceil(allow_at - now))
        return RateLimitDecision(allowed=False, remaining=0, retry_after_seconds=retry), None
    remaining = int((rate.window_seconds - (candidate - now)) // interval)
    decision = RateLimitDecision(allowed=True, remaining=max(0, remaining), retry_after_seconds=0)
    return decision, candidate


class InProcessRateLimiter(RateLimiter):
    """The `RateLimiter` port in a dict; exact, but private to one process."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._tats: dict[str, float] = {}

    async def acquire(self, key: str, rate: RateLimit) -> RateLimitDecision:
        """Count one event if allowed."""
        now = self._clock.now().timestamp()
        tat = self._tats.get(key)
        if tat is not None and tat <= now:
            del self._tats[key]
            tat = None
        decision, new_tat = gcra(now=now, tat=tat, rate=rate)
        if new_tat is not None:
            self._tats[key] = new_tat
        return decision

    async def refund(self, key: str, rate: RateLimit) -> None:
        """Move the key's arrival time back by one interval, never before now."""
        tat = self._tats.get(key)
        if tat is None:
            return
        now = self._clock.now().timestamp()
        earlier = tat - rate.window_seconds / rate.limit
        if earlier <= now:
            del self._tats[key]
        else:
            self._tats[key] = earlier
