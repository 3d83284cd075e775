"""Every metric Portico exports, on prometheus-client; docs/observability.md lists them.

prometheus-client is imported when the first `PrometheusMetrics` is built, not with this
module: it decides on import whether values go to the multiprocess files, and `portico
serve` imports the container (this module with it) before it names their directory.
"""

from pathlib import Path
from typing import TYPE_CHECKING

from adapters.prometheus.exposition import Backlogs, text_format
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
from application.notifications.ports import DeliveryStatus
from domain.notifications.notification import Channel

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

CONTENT_CACHE = "content"
"""The cache of anonymous article reads, as the `cache` label names it."""
_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_POOL_WAIT_SECONDS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_OTHER_METHOD = "other"
_DELIVERY_OUTCOMES = (DeliveryStatus.SENT, DeliveryStatus.SKIPPED, DeliveryStatus.FAILED)


class PrometheusMetrics(
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
    """The metrics ports on prometheus-client, plus what the HTTP middleware observes.

    - The metrics are registered in `registry` (a new one by default), so any number of
      instances can live in one process; the exposition reads that registry, or, with
      `multiprocess_dir`, the files every process of a `portico serve` writes there, so a
      scrape of any one of them answers for all. prometheus-client picks where values go
      when it is imported: the process must be started with PROMETHEUS_MULTIPROC_DIR set
      to `multiprocess_dir` (`portico serve` does it), or this constructor raises.
    - Gauges of what a process holds (requests in flight, pool, live connections, running
      jobs) add up over the live processes; a process that died is dropped from them at
      the next scrape.
    - Label sets known in advance (login outcomes, deliveries, cache lookups, live
      channels) are created at zero, so a rate over them exists before the first event.
    - The HTTP label children are kept per route, method and status, so a request costs
      one dictionary lookup and three writes; a method outside the usual seven is counted
      as `other`.
    """

    def __init__(
        self, *, registry: "CollectorRegistry | None" = None, multiprocess_dir: Path | None = None
    ) -> None:
        from prometheus_client import (  # noqa: PLC0415 - see the module's docstring
            CollectorRegistry,
            Counter,
            Gauge,
            Histogram,
            values,
        )

        if multiprocess_dir is not None and not getattr(values.ValueClass, "_multiprocess", False):
            raise RuntimeError(
                "prometheus-client was imported before PROMETHEUS_MULTIPROC_DIR was set; "
                "counts would stay in each process"
            )
        self.registry = registry or CollectorRegistry()
        self._multiprocess_dir = multiprocess_dir
        r = self.registry
        self._requests = Counter(
            "portico_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self._duration = Histogram(
            "portico_http_request_duration_seconds",
            "Time from a request's arrival to its response's first byte.",
            ["route", "method"],
            buckets=_SECONDS,
            registry=r,
        )
        self.in_flight = Gauge(
            "portico_http_requests_in_flight",
            "HTTP requests being handled now.",
            multiprocess_mode="livesum",
            registry=r,
        )
        self._queue_wait = Histogram(
            "portico_http_queue_wait_seconds",
            "Time requests waited for a place under APP_MAX_CONCURRENT_REQUESTS (only those "
            "that waited).",
            buckets=_SECONDS,
            registry=r,
        )
        self._pool_size = Gauge(
            "portico_db_pool_size",
            "Database connections open in the pools.",
            multiprocess_mode="livesum",
            registry=r,
        )
        self._pool_checked_out = Gauge(
            "portico_db_pool_checked_out",
            "Database connections in use.",
            multiprocess_mode="livesum",
            registry=r,
        )
        self._pool_capacity = Gauge(
            "portico_db_pool_capacity",
            "Database connections the pools may open (DATABASE_POOL_SIZE + "
            "DATABASE_MAX_OVERFLOW per process).",
            multiprocess_mode="livesum",
            registry=r,
        )
        self._pool_wait = Histogram(
            "portico_db_pool_wait_seconds",
            "Time checkouts waited because every connection was in use.",
            buckets=_POOL_WAIT_SECONDS,
            registry=r,
        )
        self._pool_timeouts = Counter(
            "portico_db_pool_timeouts",
            "Checkouts that waited DATABASE_POOL_TIMEOUT_SECONDS in vain (answered 503).",
            registry=r,
        )
        self._cache = Counter(
            "portico_cache_lookups",
            "Cache reads, by cache and what they found.",
            ["cache", "result"],
            registry=r,
        )
        self._rate_limited = Counter(
            "portico_rate_limited",
            "Requests refused by a rate limit (429), by rule.",
            ["rule"],
            registry=r,
        )
        self._relayed = Counter(
            "portico_outbox_relayed",
            "Outbox events the relay handed to the event bus, or failed to.",
            ["outcome"],
            registry=r,
        )
        self._consumer_lag = Gauge(
            "portico_consumer_lag",
            "Records waiting to be handled in the partitions this worker consumes, by topic.",
            ["topic"],
            multiprocess_mode="livesum",
            registry=r,
        )
        self._dead_letters = Counter(
            "portico_events_dead_lettered",
            "Events that failed every attempt and were parked in the dead-letter topic.",
            registry=r,
        )
        self._jobs = Counter(
            "portico_jobs",
            "Runs of background jobs, by job and how the run ended.",
            ["task", "outcome"],
            registry=r,
        )
        self._jobs_running = Gauge(
            "portico_jobs_running",
            "Background jobs running now, by job.",
            ["task"],
            multiprocess_mode="livesum",
            registry=r,
        )
        self._live = Gauge(
            "portico_live_connections",
            "WebSockets and SSE streams open now.",
            ["channel"],
            multiprocess_mode="livesum",
            registry=r,
        )
        self._deliveries = Counter(
            "portico_notification_deliveries",
            "Notification deliveries, by channel and recorded outcome.",
            ["channel", "outcome"],
            registry=r,
        )
        self._logins = Counter(
            "portico_logins", "Sign-in attempts, by outcome.", ["outcome"], registry=r
        )
        self._http_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._create_known_series()

    def _create_known_series(self) -> None:
        for login in LoginOutcome:
            self._logins.labels(login.value)
        for channel in Channel:
            for outcome in _DELIVERY_OUTCOMES:
                self._deliveries.labels(channel.value, outcome.value)
        for lookup in CacheLookup:
            self._cache.labels(CONTENT_CACHE, lookup.value)
        for live in LiveChannel:
            self._live.labels(live.value)

    def request_served(self, route: str, method: str, status: int, seconds: float) -> None:
        """One HTTP request was answered with `status`, its first byte after `seconds`."""
        key = (route, method, status)
        children = self._http_children.get(key)
        if children is None:
            label = method if method in _METHODS else _OTHER_METHOD
            children = (
                self._requests.labels(route, label, str(status)),
                self._duration.labels(route, label),
            )
            self._http_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def queue_waited(self, seconds: float) -> None:
        """A request waited `seconds` for its place under the concurrency limit."""
        self._queue_wait.observe(seconds)

    def login_attempted(self, outcome: LoginOutcome) -> None:
        """Count the attempt."""
        self._logins.labels(outcome.value).inc()

    def delivery_recorded(self, *, channel: str, outcome: str) -> None:
        """Count the delivery."""
        self._deliveries.labels(channel, outcome).inc()

    def batch_relayed(self, *, published: int, failed: int) -> None:
        """Count the batch's events, zero included, so both series exist once it ran."""
        self._relayed.labels("published").inc(published)
        self._relayed.labels("failed").inc(failed)

    def consumer_lag(self, *, topic: str, lag: int) -> None:
        """Set the topic's lag."""
        self._consumer_lag.labels(topic).set(lag)

    def event_dead_lettered(self) -> None:
        """Count the parked event."""
        self._dead_letters.inc()

    def job_started(self, task: str) -> None:
        """One more job runs."""
        self._jobs_running.labels(task).inc()

    def job_ended(self, task: str, outcome: JobOutcome) -> None:
        """One job fewer runs; count how it ended."""
        self._jobs_running.labels(task).dec()
        self._jobs.labels(task, outcome.value).inc()

    def cache_looked_up(self, *, cache: str, lookup: CacheLookup) -> None:
        """Count the read."""
        self._cache.labels(cache, lookup.value).inc()

    def request_limited(self, *, rule: str) -> None:
        """Count the refusal."""
        self._rate_limited.labels(rule).inc()

    def live_connection_opened(self, channel: LiveChannel) -> None:
        """One more connection."""
        self._live.labels(channel.value).inc()

    def live_connection_closed(self, channel: LiveChannel) -> None:
        """One connection fewer."""
        self._live.labels(channel.value).dec()

    def pool_sampled(self, *, size: int, checked_out: int, capacity: int) -> None:
        """Set the pool's gauges."""
        self._pool_size.set(size)
        self._pool_checked_out.set(checked_out)
        self._pool_capacity.set(capacity)

    def pool_waited(self, *, seconds: float, timed_out: bool) -> None:
        """Record the wait, and count it if it timed out."""
        self._pool_wait.observe(seconds)
        if timed_out:
            self._pool_timeouts.inc()

    def exposition(self, backlogs: Backlogs) -> bytes:
        """Every metric in the text format, with `backlogs` as read for this scrape."""
        return text_format(self.registry, self._multiprocess_dir, backlogs)
