"""The metrics ports in memory: what was counted, for tests to read back."""

from collections import Counter

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

Labels = tuple[str, ...]


class InMemoryMetrics(
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
    """Every metrics port, kept as plain numbers under the names Prometheus exports.

    `counts` adds up per metric and labels (`counts["portico_logins", ("success",)]`);
    `gauges` holds the last value set, or the sum of what was added, the same way;
    `waits` lists every pool wait in order.
    """

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, Labels]] = Counter()
        self.gauges: dict[tuple[str, Labels], float] = {}
        self.waits: list[tuple[float, bool]] = []

    def count(self, name: str, *labels: str) -> float:
        """What was counted under `name` and `labels` (0 if nothing)."""
        return self.counts[name, labels]

    def gauge(self, name: str, *labels: str) -> float | None:
        """The gauge's value, None if never set."""
        return self.gauges.get((name, labels))

    def _add(self, name: str, labels: Labels, amount: float) -> None:
        self.gauges[name, labels] = self.gauges.get((name, labels), 0) + amount

    def login_attempted(self, outcome: LoginOutcome) -> None:
        """Count the attempt."""
        self.counts["portico_logins", (outcome.value,)] += 1

    def delivery_recorded(self, *, channel: str, outcome: str) -> None:
        """Count the delivery."""
        self.counts["portico_notification_deliveries", (channel, outcome)] += 1

    def batch_relayed(self, *, published: int, failed: int) -> None:
        """Count the batch's events."""
        self.counts["portico_outbox_relayed", ("published",)] += published
        self.counts["portico_outbox_relayed", ("failed",)] += failed

    def consumer_lag(self, *, topic: str, lag: int) -> None:
        """Set the topic's lag."""
        self.gauges["portico_consumer_lag", (topic,)] = lag

    def event_dead_lettered(self) -> None:
        """Count the parked event."""
        self.counts["portico_events_dead_lettered", ()] += 1

    def job_started(self, task: str) -> None:
        """One more job runs."""
        self._add("portico_jobs_running", (task,), 1)

    def job_ended(self, task: str, outcome: JobOutcome) -> None:
        """One job fewer runs; count how it ended."""
        self._add("portico_jobs_running", (task,), -1)
        self.counts["portico_jobs", (task, outcome.value)] += 1

    def cache_looked_up(self, *, cache: str, lookup: CacheLookup) -> None:
        """Count the read."""
        self.counts["portico_cache_lookups", (cache, lookup.value)] += 1

    def request_limited(self, *, rule: str) -> None:
        """Count the refusal."""
        self.counts["portico_rate_limited", (rule,)] += 1

    def live_connection_opened(self, channel: LiveChannel) -> None:
        """One more connection."""
        self._add("portico_live_connections", (channel.value,), 1)

    def live_connection_closed(self, channel: LiveChannel) -> None:
        """One connection fewer."""
        self._add("portico_live_connections", (channel.value,), -1)

    def pool_sampled(self, *, size: int, checked_out: int, capacity: int) -> None:
        """Set the pool's gauges."""
        self.gauges["portico_db_pool_size", ()] = size
        self.gauges["portico_db_pool_checked_out", ()] = checked_out
        self.gauges["portico_db_pool_capacity", ()] = capacity

    def pool_waited(self, *, seconds: float, timed_out: bool) -> None:
        """Record the wait."""
        self.waits.append((seconds, timed_out))
        if timed_out:
            self.counts["portico_db_pool_timeouts", ()] += 1
