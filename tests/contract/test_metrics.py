"""The metrics ports' contract, on the memory twin and on Prometheus (read from its exposition).

Both keep the same figures under the same names and labels: what one counts, the other
counts, so a test that reads the memory twin says what a scrape will show.
"""

from typing import Protocol

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.memory.metrics import InMemoryMetrics
from adapters.prometheus.exposition import Backlogs
from adapters.prometheus.metrics import PrometheusMetrics
from application.common.ports.metrics import (
    CacheLookup,
    JobOutcome,
    LiveChannel,
    LoginOutcome,
)

LABELS = {
    "portico_logins": ("outcome",),
    "portico_notification_deliveries": ("channel", "outcome"),
    "portico_outbox_relayed": ("outcome",),
    "portico_consumer_lag": ("topic",),
    "portico_events_dead_lettered": (),
    "portico_jobs": ("task", "outcome"),
    "portico_jobs_running": ("task",),
    "portico_cache_lookups": ("cache", "result"),
    "portico_rate_limited": ("rule",),
    "portico_live_connections": ("channel",),
    "portico_db_pool_size": (),
    "portico_db_pool_checked_out": (),
    "portico_db_pool_capacity": (),
    "portico_db_pool_timeouts": (),
}
"""The label names of each metric, in the order the memory twin keys them."""


class Counted(Protocol):
    """Every metrics port, as both adapters implement them."""

    def login_attempted(self, outcome: LoginOutcome) -> None: ...
    def delivery_recorded(self, *, channel: str, outcome: str) -> None: ...
    def batch_relayed(self, *, published: int, failed: int) -> None: ...
    def consumer_lag(self, *, topic: str, lag: int) -> None: ...
    def event_dead_lettered(self) -> None: ...
    def job_started(self, task: str) -> None: ...
    def job_ended(self, task: str, outcome: JobOutcome) -> None: ...
    def cache_looked_up(self, *, cache: str, lookup: CacheLookup) -> None: ...
    def request_limited(self, *, rule: str) -> None: ...
    def live_connection_opened(self, channel: LiveChannel) -> None: ...
    def live_connection_closed(self, channel: LiveChannel) -> None: ...
    def pool_sampled(self, *, size: int, checked_out: int, capacity: int) -> None: ...
    def pool_waited(self, *, seconds: float, timed_out: bool) -> None: ...


class Adapter:
    """One adapter under test, and how to read back what it holds."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.memory = InMemoryMetrics()
        self.prometheus = PrometheusMetrics()
        self.ports: Counted = self.memory if kind == "memory" else self.prometheus

    def value(self, name: str, *labels: str) -> float | None:
        """The counter's count or the gauge's value; None when the series does not exist."""
        if self.kind == "memory":
            counted = self.memory.counts.get((name, labels))
            return counted if counted is not None else self.memory.gauge(name, *labels)
        wanted = dict(zip(LABELS[name], labels, strict=True))
        text = self.prometheus.exposition(Backlogs()).decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name in {name, f"{name}_total"} and sample.labels == wanted:
                    return sample.value
        return None

    def waits(self) -> float:
        """How many pool waits were recorded."""
        if self.kind == "memory":
            return len(self.memory.waits)
        text = self.prometheus.exposition(Backlogs()).decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "portico_db_pool_wait_seconds_count":
                    return sample.value
        return 0


@pytest.fixture(params=["memory", "prometheus"])
def adapter(request: pytest.FixtureRequest) -> Adapter:
    return Adapter(str(request.param))


def test_sign_ins_add_up_per_outcome(adapter: Adapter) -> None:
    for outcome in (LoginOutcome.SUCCESS, LoginOutcome.FAILURE, LoginOutcome.FAILURE):
        adapter.ports.login_attempted(outcome)
    assert adapter.value("portico_logins", "success") == 1
    assert adapter.value("portico_logins", "failure") == 2


def test_deliveries_add_up_per_channel_and_outcome(adapter: Adapter) -> None:
    adapter.ports.delivery_recorded(channel="email", outcome="sent")
    adapter.ports.delivery_recorded(channel="email", outcome="sent")
    adapter.ports.delivery_recorded(channel="push", outcome="failed")
    assert adapter.value("portico_notification_deliveries", "email", "sent") == 2
    assert adapter.value("portico_notification_deliveries", "push", "failed") == 1


def test_relayed_events_add_up_published_and_failed(adapter: Adapter) -> None:
    adapter.ports.batch_relayed(published=3, failed=0)
    adapter.ports.batch_relayed(published=0, failed=2)
    adapter.ports.batch_relayed(published=4, failed=0)
    assert adapter.value("portico_outbox_relayed", "published") == 7
    assert adapter.value("portico_outbox_relayed", "failed") == 2


def test_consumer_lag_is_the_last_value_per_topic(adapter: Adapter) -> None:
    adapter.ports.consumer_lag(topic="portico.user", lag=5)
    adapter.ports.consumer_lag(topic="portico.article", lag=1)
    adapter.ports.consumer_lag(topic="portico.user", lag=2)
    assert adapter.value("portico_consumer_lag", "portico.user") == 2
    assert adapter.value("portico_consumer_lag", "portico.article") == 1


def test_dead_letters_add_up(adapter: Adapter) -> None:
    adapter.ports.event_dead_lettered()
    adapter.ports.event_dead_lettered()
    assert adapter.value("portico_events_dead_lettered") == 2


def test_jobs_are_running_until_they_end_and_counted_by_outcome(adapter: Adapter) -> None:
    adapter.ports.job_started("mail")
    adapter.ports.job_started("mail")
    adapter.ports.job_ended("mail", JobOutcome.SUCCEEDED)
    assert adapter.value("portico_jobs_running", "mail") == 1
    adapter.ports.job_ended("mail", JobOutcome.RETRIED)
    assert adapter.value("portico_jobs_running", "mail") == 0
    assert adapter.value("portico_jobs", "mail", "succeeded") == 1
    assert adapter.value("portico_jobs", "mail", "retried") == 1


def test_cache_reads_and_rate_limit_refusals_add_up(adapter: Adapter) -> None:
    adapter.ports.cache_looked_up(cache="content", lookup=CacheLookup.HIT)
    adapter.ports.cache_looked_up(cache="content", lookup=CacheLookup.MISS)
    adapter.ports.cache_looked_up(cache="content", lookup=CacheLookup.HIT)
    adapter.ports.request_limited(rule="auth")
    assert adapter.value("portico_cache_lookups", "content", "hit") == 2
    assert adapter.value("portico_cache_lookups", "content", "miss") == 1
    assert adapter.value("portico_rate_limited", "auth") == 1


def test_live_connections_count_while_open(adapter: Adapter) -> None:
    adapter.ports.live_connection_opened(LiveChannel.WEBSOCKET)
    adapter.ports.live_connection_opened(LiveChannel.WEBSOCKET)
    adapter.ports.live_connection_opened(LiveChannel.SSE)
    adapter.ports.live_connection_closed(LiveChannel.WEBSOCKET)
    assert adapter.value("portico_live_connections", "websocket") == 1
    assert adapter.value("portico_live_connections", "sse") == 1


def test_the_pool_reads_as_last_sampled_and_its_waits_add_up(adapter: Adapter) -> None:
    adapter.ports.pool_sampled(size=4, checked_out=3, capacity=10)
    adapter.ports.pool_sampled(size=5, checked_out=2, capacity=10)
    adapter.ports.pool_waited(seconds=0.01, timed_out=False)
    adapter.ports.pool_waited(seconds=2.0, timed_out=True)
    assert adapter.value("portico_db_pool_size") == 5
    assert adapter.value("portico_db_pool_checked_out") == 2
    assert adapter.value("portico_db_pool_capacity") == 10
    assert adapter.value("portico_db_pool_timeouts") == 1
    assert adapter.waits() == 2
