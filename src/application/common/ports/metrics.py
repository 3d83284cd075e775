"""What the service counts as it works, for whoever watches it (Prometheus in production).

Why several narrow ports rather than one `Metrics`: each place that counts declares the one
capability it uses (`LogIn` takes `LoginMetrics`, the relay loop `RelayMetrics`), so a
test hands it a fake of that capability and asserts on it alone, and a new metric changes
no unrelated constructor. One adapter implements them all (`PrometheusMetrics`, and the
memory twin `InMemoryMetrics`); `NoMetrics` counts nothing when metrics are off.

Contract, for every method: it returns at once, never blocks and never raises, so counting
can never slow down or break what is counted. Label values come from small fixed sets (the
enums here, channel and task names, rate-limit rules, topics), never from user input.
"""

from enum import StrEnum
from typing import Protocol


class LoginOutcome(StrEnum):
    """How one sign-in attempt ended."""

    SUCCESS = "success"
    FAILURE = "failure"
    """Wrong credentials, or a banned account."""
    LOCKED = "locked"
    """Refused unchecked: too many failures for the account (the login throttle)."""


class JobOutcome(StrEnum):
    """How one run of a background job ended."""

    SUCCEEDED = "succeeded"
    RETRIED = "retried"
    """It failed and will run again after a backoff."""
    FAILED = "failed"
    """It failed its last attempt and was dropped."""
    DEFERRED = "deferred"
    """A dependency was down; it runs again as the same attempt."""


class CacheLookup(StrEnum):
    """What one cache read found."""

    HIT = "hit"
    MISS = "miss"
    UNAVAILABLE = "unavailable"
    """The cache could not be reached; the database answered."""


class LiveChannel(StrEnum):
    """The kinds of long-lived connection a client holds."""

    WEBSOCKET = "websocket"
    SSE = "sse"


class LoginMetrics(Protocol):
    """Counts sign-in attempts by outcome."""

    def login_attempted(self, outcome: LoginOutcome) -> None:
        """One attempt ended this way."""
        ...


class DeliveryMetrics(Protocol):
    """Counts notification deliveries by channel and outcome."""

    def delivery_recorded(self, *, channel: str, outcome: str) -> None:
        """One delivery on `channel` was recorded as `outcome` (sent, skipped, failed)."""
        ...


class RelayMetrics(Protocol):
    """Counts the outbox relay's work."""

    def batch_relayed(self, *, published: int, failed: int) -> None:
        """One batch published `published` events and failed to publish `failed`."""
        ...


class ConsumerMetrics(Protocol):
    """Watches the event consumers: how far behind they are, and what they gave up on."""

    def consumer_lag(self, *, topic: str, lag: int) -> None:
        """`lag` records of `topic`, in the partitions this consumer holds, wait unhandled."""
        ...

    def event_dead_lettered(self) -> None:
        """An event failed every attempt and was parked (the dead-letter topic)."""
        ...


class JobMetrics(Protocol):
    """Counts background jobs: how many run now, and how each run ended."""

    def job_started(self, task: str) -> None:
        """A run of `task` began."""
        ...

    def job_ended(self, task: str, outcome: JobOutcome) -> None:
        """A run of `task` that began ended this way."""
        ...


class CacheMetrics(Protocol):
    """Counts cache reads by what they found."""

    def cache_looked_up(self, *, cache: str, lookup: CacheLookup) -> None:
        """One read of the cache named `cache`."""
        ...


class RateLimitMetrics(Protocol):
    """Counts requests refused by a rate limit."""

    def request_limited(self, *, rule: str) -> None:
        """A request was refused by the rate limit named `rule`."""
        ...


class LiveConnectionMetrics(Protocol):
    """Counts the live connections this process holds."""

    def live_connection_opened(self, channel: LiveChannel) -> None:
        """A socket or stream was attached."""
        ...

    def live_connection_closed(self, channel: LiveChannel) -> None:
        """One attached before was let go."""
        ...


class DatabasePoolMetrics(Protocol):
    """Watches this process's pool of database connections."""

    def pool_sampled(self, *, size: int, checked_out: int, capacity: int) -> None:
        """The pool holds `size` connections, `checked_out` in use; it may open `capacity`."""
        ...

    def pool_waited(self, *, seconds: float, timed_out: bool) -> None:
        """A checkout found every connection in use and waited `seconds` (in vain if timed out)."""
        ...
