"""The rate limit port: counts events per key, across every process that shares it."""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimit:
    """At most `limit` events per `window_seconds` for one key, with bursts up to `limit`."""

    limit: int
    window_seconds: int

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_seconds < 1:
            raise ValueError("a rate limit needs a positive limit and window")


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitDecision:
    """Whether an event may happen now; if not, how long until it may."""

    allowed: bool
    remaining: int
    retry_after_seconds: int


class RateLimiterUnavailableError(Exception):
    """The limiter's store cannot be reached; the caller decides to fail open or closed."""


class RateLimiter(Protocol):
    """Counts events per key within a rate (GCRA), atomically, across every process sharing it.

    Every method raises RateLimiterUnavailableError when the store is down.
    """

    async def acquire(self, key: str, rate: RateLimit) -> RateLimitDecision:
        """Count one event if the rate allows it now; when it does not, count nothing."""
        ...

    async def refund(self, key: str, rate: RateLimit) -> None:
        """Give back one event counted by `acquire`, as if it had not happened."""
        ...
