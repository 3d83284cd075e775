"""The metrics ports when metrics are off: nothing is counted, at the cost of a call."""

from application.common.ports.metrics import (
    CacheLookup,
    CacheMetrics,
    ConsumerMetrics,
    DatabasePoolMetrics,
    DeliveryMetrics,
    JobMetrics,
    JobOutcome,
    LiveChannel,
    LiveConnectionMetrics,
    LoginMetrics,
    LoginOutcome,
    RateLimitMetrics,
    RelayMetrics,
)


class NoMetrics(
    LoginMetrics,
    DeliveryMetrics,
    RelayMetrics,
    ConsumerMetrics,
    JobMetrics,
    CacheMetrics,
    RateLimitMetrics,
    LiveConnectionMetrics,
    DatabasePoolMetrics,
):
    """Every metrics port, counting nothing (METRICS_MODE=off, and adapters built without)."""

    def login_attempted(self, outcome: LoginOutcome) -> None:
        """Nothing."""

    def delivery_recorded(self, *, channel: str, outcome: str) -> None:
        """Nothing."""

    def batch_relayed(self, *, published: int, failed: int) -> None:
        """Nothing."""

    def consumer_lag(self, *, topic: str, lag: int) -> None:
        """Nothing."""

    def event_dead_lettered(self) -> None:
        """Nothing."""

    def job_started(self, task: str) -> None:
        """Nothing."""

    def job_ended(self, task: str, outcome: JobOutcome) -> None:
        """Nothing."""

    def cache_looked_up(self, *, cache: str, lookup: CacheLookup) -> None:
        """Nothing."""

    def request_limited(self, *, rule: str) -> None:
        """Nothing."""

    def live_connection_opened(self, channel: LiveChannel) -> None:
        """Nothing."""

    def live_connection_closed(self, channel: LiveChannel) -> None:
        """Nothing."""

    def pool_sampled(self, *, size: int, checked_out: int, capacity: int) -> None:
        """Nothing."""

    def pool_waited(self, *, seconds: float, timed_out: bool) -> None:
        """Nothing."""


NO_METRICS = NoMetrics()
"""The one instance adapters default to when they are built without metrics."""
