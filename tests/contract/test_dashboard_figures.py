"""The `DashboardFigures` contract, on the memory adapter and on real Redis."""

import uuid
from collections.abc import AsyncIterator

import pytest

from adapters.inprocess.dashboard import InProcessDashboardFigures
from adapters.redis.client import create_redis_client
from adapters.redis.dashboard import RedisDashboardFigures
from application.common.errors import DependencyUnavailableError
from application.dashboard.ports import (
    GAUGE_SILENCE,
    Activity,
    DashboardFigures,
    FigureQuery,
    FigureReport,
    Gauge,
    Tally,
)
from tests.support.network import closed_port

NOW = 1_800_000_000
"""A second on a minute's boundary, so the minutes of a test are easy to name."""
assert NOW % 60 == 0


def query(
    *, now: int = NOW, first: int = NOW - 9, last: int = NOW, activity: int = 60, active: int = 5
) -> FigureQuery:
    return FigureQuery(
        now=now,
        first_second=first,
        last_second=last,
        activity_minutes=activity,
        active_minutes=active,
    )


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
async def figures(request: pytest.FixtureRequest) -> AsyncIterator[DashboardFigures]:
    if request.param == "memory":
        yield InProcessDashboardFigures()
        return
    client = create_redis_client(
        request.getfixturevalue("redis_url"), timeout_seconds=2, client_name="tests"
    )
    prefix = f"test:{uuid.uuid4().hex}:"
    yield RedisDashboardFigures(client, prefix=prefix)
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_nothing_reported_reads_as_zero_for_every_second(figures: DashboardFigures) -> None:
    window = await figures.read(query(first=NOW - 4, last=NOW))
    assert [t.second for t in window.seconds] == [NOW - 4, NOW - 3, NOW - 2, NOW - 1, NOW]
    assert all(t.requests == t.errors == 0 and not t.latency for t in window.seconds)
    assert window.activity == {}
    assert window.active_users == 0
    assert window.gauges == {}
    assert window.processes == 0


async def test_counts_of_two_processes_add_up_per_second(figures: DashboardFigures) -> None:
    await figures.add(
        FigureReport(
            process="api-1",
            second=NOW,
            tallies=[
                Tally(second=NOW - 2, requests=3, errors=1, latency={10: 2, 40: 1}),
                Tally(second=NOW - 1, requests=1, latency={12: 1}),
            ],
        )
    )
    await figures.add(
        FigureReport(
            process="api-2",
            second=NOW,
            tallies=[Tally(second=NOW - 2, requests=2, errors=2, latency={10: 1, 80: 1})],
        )
    )
    await figures.add(
        FigureReport(process="api-1", second=NOW, tallies=[Tally(second=NOW - 2, requests=1)])
    )
    window = await figures.read(query(first=NOW - 2, last=NOW - 1))
    earlier, later = window.seconds
    assert (earlier.second, earlier.requests, earlier.errors) == (NOW - 2, 6, 3)
    assert dict(earlier.latency) == {10: 3, 40: 1, 80: 1}
    assert (later.second, later.requests, later.errors, dict(later.latency)) == (
        NOW - 1,
        1,
        0,
        {12: 1},
    )


async def test_activity_counts_in_its_second_and_over_the_minutes_asked(
    figures: DashboardFigures,
) -> None:
    await figures.add(
        FigureReport(
            process="worker",
            second=NOW,
            tallies=[
                Tally(second=NOW - 130, activity={Activity.SIGNUPS: 1}),
                Tally(second=NOW - 3, activity={Activity.ARTICLES: 2, Activity.COMMENTS: 1}),
            ],
        )
    )
    await figures.add(
        FigureReport(
            process="api-1",
            second=NOW,
            tallies=[Tally(second=NOW - 3, requests=1, activity={Activity.ARTICLES: 1})],
        )
    )
    window = await figures.read(query(first=NOW - 3, last=NOW - 3))
    assert dict(window.seconds[0].activity) == {Activity.ARTICLES: 3, Activity.COMMENTS: 1}
    assert dict(window.activity) == {
        Activity.SIGNUPS: 1,
        Activity.ARTICLES: 3,
        Activity.COMMENTS: 1,
    }
    recent = await figures.read(query(first=NOW, last=NOW, activity=2))
    assert dict(recent.activity) == {Activity.ARTICLES: 3, Activity.COMMENTS: 1}


async def test_a_user_seen_by_several_processes_counts_once(figures: DashboardFigures) -> None:
    minute = NOW // 60
    await figures.add(
        FigureReport(
            process="api-1",
            second=NOW,
            active_users={minute: frozenset({"ann", "bob"}), minute - 2: frozenset({"cy"})},
        )
    )
    await figures.add(
        FigureReport(process="api-2", second=NOW, active_users={minute: frozenset({"bob"})})
    )
    await figures.add(
        FigureReport(process="api-2", second=NOW, active_users={minute - 9: frozenset({"old"})})
    )
    assert (await figures.read(query(active=5))).active_users == 3
    assert (await figures.read(query(active=1))).active_users == 2


async def test_gauges_are_each_process_latest_summed_while_it_reports(
    figures: DashboardFigures,
) -> None:
    live = Gauge.LIVE_CONNECTIONS
    await figures.add(FigureReport(process="api-1", second=NOW - 3, gauges={live: 4}))
    await figures.add(FigureReport(process="api-1", second=NOW - 1, gauges={live: 2}))
    await figures.add(FigureReport(process="api-2", second=NOW, gauges={live: 5}))
    await figures.add(FigureReport(process="worker", second=NOW, tallies=[Tally(second=NOW)]))
    window = await figures.read(query())
    assert (window.processes, dict(window.gauges)) == (2, {live: 7})

    later = await figures.read(query(now=NOW - 1 + GAUGE_SILENCE + 1))
    assert (later.processes, dict(later.gauges)) == (1, {live: 5})


async def test_a_process_that_forgets_its_gauges_stops_counting(figures: DashboardFigures) -> None:
    live = Gauge.LIVE_CONNECTIONS
    await figures.add(FigureReport(process="api-1", second=NOW, gauges={live: 3}))
    await figures.add(FigureReport(process="api-2", second=NOW, gauges={live: 1}))
    await figures.forget("api-1")
    await figures.forget("never-reported")
    window = await figures.read(query())
    assert (window.processes, dict(window.gauges)) == (1, {live: 1})


@pytest.mark.integration
async def test_redis_out_of_reach_is_a_dependency_outage() -> None:
    client = create_redis_client(
        f"redis://127.0.0.1:{closed_port()}/0", timeout_seconds=0.5, client_name="tests"
    )
    figures = RedisDashboardFigures(client, prefix="test:gone:")
    try:
        with pytest.raises(DependencyUnavailableError):
            await figures.add(FigureReport(process="p", second=NOW, tallies=[Tally(second=NOW)]))
        with pytest.raises(DependencyUnavailableError):
            await figures.read(query())
        with pytest.raises(DependencyUnavailableError):
            await figures.forget("p")
    finally:
        await client.aclose()


@pytest.mark.integration
async def test_redis_deletes_the_gauges_of_a_process_long_silent(redis_url: str) -> None:
    client = create_redis_client(redis_url, timeout_seconds=2, client_name="tests")
    prefix = f"test:{uuid.uuid4().hex}:"
    figures = RedisDashboardFigures(client, prefix=prefix)
    live = Gauge.LIVE_CONNECTIONS
    try:
        await figures.add(FigureReport(process="died", second=NOW - 61, gauges={live: 9}))
        await figures.add(FigureReport(process="quiet", second=NOW - 30, gauges={live: 2}))
        await figures.add(FigureReport(process="up", second=NOW, gauges={live: 1}))
        window = await figures.read(query())
        assert (window.processes, dict(window.gauges)) == (1, {live: 1})
        assert sorted(await client.hkeys(f"{prefix}g")) == [b"quiet", b"up"]
        assert 0 < await client.ttl(f"{prefix}g") <= 121 * 60
    finally:
        await client.delete(f"{prefix}g")
        await client.aclose()
