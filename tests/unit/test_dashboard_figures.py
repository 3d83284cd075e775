"""The dashboard's figures in one process: latency buckets, the recorder that counts and
reports in the background, the handler that counts activity, and `ReadDashboard`."""

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from adapters.inprocess.dashboard import InProcessDashboardFigures
from adapters.memory.dashboard import FixedJobQueueDepth, InMemoryOutboxBacklog
from adapters.memory.database import InMemoryDatabase
from adapters.memory.event_publisher import InMemoryEventPublisher
from adapters.memory.system import ManualClock, SequentialIdGenerator
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from application.common.errors import DependencyUnavailableError
from application.common.outbox import OutboxMessage
from application.common.ports.events import EventPublishError
from application.dashboard.count_published_events import CountPublishedEvents
from application.dashboard.latency import BUCKETS, bucket_of, percentile_ms, upper_bound_ms
from application.dashboard.ports import (
    Activity,
    DashboardFigures,
    FigureQuery,
    FigureReport,
    FigureWindow,
    Gauge,
    JobQueueDepth,
)
from application.dashboard.read_dashboard import (
    HEADLINE_SECONDS,
    SETTLE_SECONDS,
    ReadDashboard,
    ReadDashboardCommand,
)
from application.dashboard.recorder import FigureRecorder
from domain.articles.events import ArticlePublished
from domain.shared.events import DomainEvent
from domain.users.events import UserFollowed, UserRegistered
from domain.users.values import UserId
from tests.support.events import Counter

START = datetime(2027, 1, 15, 10, 0, tzinfo=UTC)
SECOND = int(START.timestamp())
INTERVAL = 0.2


def window_query(now: int, *, first: int, last: int) -> FigureQuery:
    return FigureQuery(
        now=now, first_second=first, last_second=last, activity_minutes=60, active_minutes=5
    )


async def read_second(figures: DashboardFigures, second: int) -> FigureWindow:
    return await figures.read(window_query(second, first=second, last=second))


async def until(done: Callable[[], bool], within: float = 2.0) -> None:
    """Wait for the background reports to make `done` true."""
    async with asyncio.timeout(within):
        while not done():  # noqa: ASYNC110 - the reports run in the recorder's own task
            await asyncio.sleep(0.01)


# --- Latency buckets ----------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [0.00001, 0.0004, 0.001, 0.0123, 0.25, 1.0, 3.7, 60.0])
def test_a_latency_falls_in_the_bucket_whose_bound_is_within_19_percent_above_it(
    seconds: float,
) -> None:
    bound = upper_bound_ms(bucket_of(seconds))
    milliseconds = seconds * 1000
    assert bound >= milliseconds * 0.999999
    assert bucket_of(seconds) == 0 or bound <= milliseconds * 1.19


def test_the_slowest_requests_share_the_last_bucket() -> None:
    assert bucket_of(3600.0) == bucket_of(120.0) == BUCKETS - 1


def test_percentiles_read_from_merged_buckets() -> None:
    histogram = {bucket_of(0.002): 98, bucket_of(0.5): 1, bucket_of(2.0): 1}
    assert percentile_ms(histogram, 0.5) == upper_bound_ms(bucket_of(0.002))
    assert percentile_ms(histogram, 0.99) == upper_bound_ms(bucket_of(0.5))
    assert percentile_ms(histogram, 1.0) == upper_bound_ms(bucket_of(2.0))
    assert percentile_ms({}, 0.5) is None


# --- The recorder -------------------------------------------------------------------------


async def test_the_first_count_after_a_quiet_interval_is_reported_at_once() -> None:
    figures = InProcessDashboardFigures()
    recorder = FigureRecorder(figures, ManualClock(START), process="p1", interval_seconds=5)
    recorder.request(status=200, seconds=0.003, user="ann")
    recorder.request(status=503, seconds=0.2)
    recorder.activity(Activity.ARTICLES)
    await asyncio.sleep(0.05)
    window = await read_second(figures, SECOND)
    tally = window.seconds[0]
    assert (tally.requests, tally.errors) == (2, 1)
    assert dict(tally.latency) == {bucket_of(0.003): 1, bucket_of(0.2): 1}
    assert dict(tally.activity) == {Activity.ARTICLES: 1}
    assert window.active_users == 1

    recorder.request(status=200, seconds=0.01)  # within the interval: it waits for the next
    await asyncio.sleep(0.05)
    assert (await read_second(figures, SECOND)).seconds[0].requests == 2
    await recorder.close()  # closing sends what is left
    assert (await read_second(figures, SECOND)).seconds[0].requests == 3


async def test_counts_are_reported_at_most_once_an_interval() -> None:
    reports: list[FigureReport] = []

    class Recording(InProcessDashboardFigures):
        async def add(self, report: FigureReport) -> None:
            reports.append(report)
            await super().add(report)

    recorder = FigureRecorder(
        Recording(), ManualClock(START), process="p", interval_seconds=INTERVAL
    )
    started = asyncio.get_running_loop().time()
    for _ in range(10):
        recorder.request(status=200, seconds=0.001)
        await asyncio.sleep(INTERVAL / 4)
    await asyncio.sleep(INTERVAL * 1.5)
    elapsed = asyncio.get_running_loop().time() - started
    assert sum(t.requests for r in reports for t in r.tallies) == 10
    assert 2 <= len(reports) <= elapsed / INTERVAL + 1
    await recorder.close()


async def test_a_process_with_gauges_reports_them_while_idle_and_withdraws_them() -> None:
    figures = InProcessDashboardFigures()
    clock = ManualClock(START)
    recorder = FigureRecorder(figures, clock, process="api-1", interval_seconds=INTERVAL)
    held = [3]
    recorder.watch(Gauge.LIVE_CONNECTIONS, lambda: held[0])
    await asyncio.sleep(INTERVAL / 2)
    window = await read_second(figures, SECOND)
    assert (window.processes, dict(window.gauges)) == (1, {Gauge.LIVE_CONNECTIONS: 3})

    held[0] = 5
    clock.advance(timedelta(seconds=30))  # an idle process still reports, so it stays live
    async with asyncio.timeout(2):
        while (later := await read_second(figures, SECOND + 30)).processes == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert dict(later.gauges) == {Gauge.LIVE_CONNECTIONS: 5}

    await recorder.close()
    gone = await read_second(figures, SECOND + 30)
    assert (gone.processes, dict(gone.gauges)) == (0, {})


class Flaky(InProcessDashboardFigures):
    """A store that refuses the first `failures` reports, and keeps those it takes."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.attempts = 0
        self.taken: list[FigureReport] = []

    async def add(self, report: FigureReport) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise DependencyUnavailableError("is down", field="dashboard")
        self.taken.append(report)
        await super().add(report)


async def test_counts_wait_through_an_outage_and_the_too_old_are_dropped() -> None:
    figures = Flaky(failures=2)
    clock = ManualClock(START)
    recorder = FigureRecorder(figures, clock, process="p", interval_seconds=INTERVAL)
    recorder.request(status=200, seconds=0.001, user="ann")
    await until(lambda: figures.attempts == 1)
    recorder.request(status=500, seconds=0.001)
    clock.advance(timedelta(seconds=100))
    recorder.request(status=200, seconds=0.001)
    await until(lambda: figures.attempts == 2)
    assert figures.taken == []
    clock.advance(timedelta(minutes=9))  # the first second is now older than the store keeps
    await until(lambda: figures.attempts == 3)
    (report,) = figures.taken
    assert [(t.second, t.requests, t.errors) for t in report.tallies] == [(SECOND + 100, 1, 0)]
    assert dict(report.active_users) == {SECOND // 60: frozenset({"ann"})}
    await recorder.close()


async def test_a_recorder_outside_an_event_loop_only_counts() -> None:
    figures = InProcessDashboardFigures()
    recorder = FigureRecorder(figures, ManualClock(START), process="p")

    def count_in_a_thread() -> None:
        recorder.request(status=200, seconds=0.001)

    await asyncio.to_thread(count_in_a_thread)
    await recorder.flush()
    assert (await read_second(figures, SECOND)).seconds[0].requests == 1


# --- Counting activity from domain events -------------------------------------------------


def message(event: DomainEvent) -> OutboxMessage:
    return OutboxMessage(event_id=uuid.uuid4(), event=event, request_id=None)


async def test_published_activity_is_counted_and_dated_by_the_event() -> None:
    figures = InProcessDashboardFigures()
    recorder = FigureRecorder(figures, ManualClock(START + timedelta(minutes=2)), process="w")
    bus = InMemoryEventPublisher()
    counting = CountPublishedEvents(bus, recorder)
    user_id = UserId(uuid.uuid4())
    article = ArticlePublished(
        aggregate_id="a1", occurred_at=START, author_id=str(user_id), slug="s", title="t", tags=()
    )
    registered = UserRegistered(
        aggregate_id=str(user_id), occurred_at=START, username="ann", email="ann@example.com"
    )
    followed = UserFollowed(
        aggregate_id=str(user_id), occurred_at=START, followee_id=str(uuid.uuid4())
    )
    bus.fail_next(1)
    with pytest.raises(EventPublishError):  # refused by the bus: not counted
        await counting.publish([message(article)])
    await counting.publish([message(article), message(registered), message(followed)])
    assert len(bus.published) == 3
    await recorder.flush()
    window = await read_second(figures, SECOND)
    expected = {Activity.ARTICLES: 1, Activity.SIGNUPS: 1}
    assert dict(window.seconds[0].activity) == expected
    assert dict(window.activity) == expected
    await recorder.close()


# --- ReadDashboard ------------------------------------------------------------------------


class DownQueue(JobQueueDepth):
    async def depth(self) -> int:
        raise DependencyUnavailableError("is down", field="jobs")


async def test_the_dashboard_reads_settled_seconds_and_the_headline_over_ten() -> None:
    clock = ManualClock(START)
    figures = InProcessDashboardFigures()
    recorder = FigureRecorder(figures, clock, process="api-1")
    for offset in range(HEADLINE_SECONDS + 5):
        clock.advance(timedelta(seconds=1))
        for _ in range(offset % 3 + 1):
            recorder.request(status=500 if offset == 12 else 200, seconds=0.004, user=f"u{offset}")
    recorder.activity(Activity.COMMENTS)
    recorder.watch(Gauge.LIVE_CONNECTIONS, lambda: 4)
    await recorder.flush()
    database = InMemoryDatabase()
    uow = InMemoryUnitOfWork(database, SequentialIdGenerator())
    async with uow:
        counter = Counter("c")
        counter.increment(1, now=START - timedelta(seconds=90))
        uow.track(counter)
        await uow.commit()
    read = ReadDashboard(figures, InMemoryOutboxBacklog(database), FixedJobQueueDepth(7), clock)

    snapshot = await read(ReadDashboardCommand(history_seconds=3))
    live = snapshot.figures
    assert live is not None
    now = int(clock.now().timestamp())
    assert [s.second for s in live.seconds] == [now - SETTLE_SECONDS - 2, now - 3, now - 2]
    shown = range(now - SETTLE_SECONDS - HEADLINE_SECONDS + 1, now - SETTLE_SECONDS + 1)
    expected = [(s - SECOND - 1) % 3 + 1 for s in shown]
    assert live.requests_per_second == sum(expected) / HEADLINE_SECONDS
    assert live.error_rate == (12 % 3 + 1) / sum(expected)
    assert live.p50_ms == live.p99_ms == upper_bound_ms(bucket_of(0.004))
    assert live.active_users == HEADLINE_SECONDS + 5
    assert dict(live.last_hour) == {Activity.SIGNUPS: 0, Activity.ARTICLES: 0, Activity.COMMENTS: 1}
    assert (live.live_connections, live.api_processes) == (4, 1)
    assert snapshot.outbox is not None
    assert (snapshot.outbox.count, snapshot.outbox.oldest_at) == (1, START - timedelta(seconds=90))
    assert snapshot.job_queue_depth == 7
    await recorder.close()


async def test_a_store_that_is_down_leaves_only_its_part_out() -> None:
    class DownFigures(InProcessDashboardFigures):
        async def read(self, query: FigureQuery) -> FigureWindow:
            raise DependencyUnavailableError("is down", field="dashboard")

    database = InMemoryDatabase()
    clock = ManualClock(START)
    snapshot = await ReadDashboard(
        DownFigures(), InMemoryOutboxBacklog(database), DownQueue(), clock
    )(ReadDashboardCommand(history_seconds=0))
    assert snapshot.figures is None
    assert snapshot.job_queue_depth is None
    assert snapshot.outbox is not None
    assert snapshot.outbox.count == 0

    quiet = await ReadDashboard(
        InProcessDashboardFigures(), InMemoryOutboxBacklog(database), FixedJobQueueDepth(), clock
    )(ReadDashboardCommand(history_seconds=0))
    assert quiet.figures is not None
    assert quiet.figures.seconds == []
    assert (quiet.figures.requests_per_second, quiet.figures.error_rate) == (0.0, None)
    assert quiet.figures.p99_ms is None


@pytest.mark.parametrize("history", [-1, 301])
def test_the_history_asked_is_bounded(history: int) -> None:
    with pytest.raises(ValueError, match="history_seconds"):
        ReadDashboardCommand(history_seconds=history)
