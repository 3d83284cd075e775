"""Use case: the dashboard's figures, from every process, as they stand now."""

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from application.common.errors import DependencyUnavailableError
from application.common.ports.clock import Clock
from application.dashboard.latency import merged, percentile_ms
from application.dashboard.ports import (
    Activity,
    DashboardFigures,
    FigureQuery,
    FigureWindow,
    Gauge,
    JobQueueDepth,
    OutboxBacklog,
    Tally,
)
from application.dashboard.views import DashboardSnapshot, LiveFigures, SecondFigures

SETTLE_SECONDS = 2
"""A second is shown once every process has reported it: reports are at most a second
apart, so the second that began this many seconds ago is the newest complete one."""
HEADLINE_SECONDS = 10
"""The settled seconds the request rate, error rate and percentiles are taken over."""
MAX_HISTORY_SECONDS = 300
"""The most seconds one read returns, for the charts."""
ACTIVE_MINUTES = 5
"""A user is active who sent a signed-in request within this many minutes."""
ACTIVITY_MINUTES = 60
"""Sign-ups, articles and comments are counted over this many minutes."""
BACKLOG_CAP = 100_000
"""The outbox backlog is counted up to this, so a huge one costs no more to read."""

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadDashboardCommand:
    """How many settled seconds of per-second figures to return, 0 to `MAX_HISTORY_SECONDS`."""

    history_seconds: int

    def __post_init__(self) -> None:
        if not 0 <= self.history_seconds <= MAX_HISTORY_SECONDS:
            raise ValueError(f"history_seconds must be 0 to {MAX_HISTORY_SECONDS}")


class ReadDashboard:
    """The dashboard's figures now: requests, activity, backlogs and live connections.

    Rules:
    - Request and activity figures are every API process's and worker's together, as they
      reported them; the newest second shown is the newest complete one (`SETTLE_SECONDS`).
    - Requests per second, the error rate (5xx answers among all) and the p50 and p99
      latencies cover the last `HEADLINE_SECONDS` settled seconds; active users are the
      distinct signed-in users of the last `ACTIVE_MINUTES` minutes; sign-ups, new articles
      and new comments are those of the last `ACTIVITY_MINUTES` minutes.
    - Live connections are every API process's WebSockets and streams, summed over the
      processes that reported within the last few seconds.
    - The outbox backlog is counted up to `BACKLOG_CAP`; the job queue depth counts jobs
      waiting, running or waiting to be retried.
    - Each part comes from its own store; a store that is down leaves its part out (None)
      and the rest is still answered.
    """

    def __init__(
        self,
        figures: DashboardFigures,
        outbox: OutboxBacklog,
        jobs: JobQueueDepth,
        clock: Clock,
    ) -> None:
        self._figures = figures
        self._outbox = outbox
        self._jobs = jobs
        self._clock = clock

    async def __call__(self, command: ReadDashboardCommand) -> DashboardSnapshot:
        """Read every part at once."""
        at = self._clock.now()
        now = int(at.timestamp())
        last = now - SETTLE_SECONDS
        span = max(command.history_seconds, HEADLINE_SECONDS)
        query = FigureQuery(
            now=now,
            first_second=last - span + 1,
            last_second=last,
            activity_minutes=ACTIVITY_MINUTES,
            active_minutes=ACTIVE_MINUTES,
        )
        window, backlog, depth = await asyncio.gather(
            _unless_down(self._figures.read(query)),
            _unless_down(self._outbox.backlog(cap=BACKLOG_CAP)),
            _unless_down(self._jobs.depth()),
        )
        return DashboardSnapshot(
            at=at,
            figures=None if window is None else _live(window, command.history_seconds),
            outbox=backlog,
            job_queue_depth=depth,
        )


async def _unless_down(read: Awaitable[_T]) -> _T | None:
    try:
        return await read
    except DependencyUnavailableError:
        return None


def _live(window: FigureWindow, history_seconds: int) -> LiveFigures:
    headline = window.seconds[-HEADLINE_SECONDS:]
    requests = sum(tally.requests for tally in headline)
    errors = sum(tally.errors for tally in headline)
    latency = merged(*(tally.latency for tally in headline))
    shown = window.seconds[len(window.seconds) - history_seconds :] if history_seconds else ()
    return LiveFigures(
        seconds=[_second(tally) for tally in shown],
        requests_per_second=requests / len(headline) if headline else 0.0,
        error_rate=errors / requests if requests else None,
        p50_ms=percentile_ms(latency, 0.5),
        p99_ms=percentile_ms(latency, 0.99),
        active_users=window.active_users,
        last_hour={kind: window.activity.get(kind, 0) for kind in Activity},
        live_connections=window.gauges.get(Gauge.LIVE_CONNECTIONS, 0),
        api_processes=window.processes,
    )


def _second(tally: Tally) -> SecondFigures:
    return SecondFigures(
        second=tally.second,
        requests=tally.requests,
        errors=tally.errors,
        p50_ms=percentile_ms(tally.latency, 0.5),
        p99_ms=percentile_ms(tally.latency, 0.99),
        activity={kind: tally.activity.get(kind, 0) for kind in Activity},
    )
