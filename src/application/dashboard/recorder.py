"""The figures this process counts, kept per second and handed on in the background."""

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from application.common.errors import DependencyUnavailableError
from application.common.ports.clock import Clock
from application.dashboard.latency import bucket_of
from application.dashboard.ports import (
    MINUTES_KEPT,
    SECONDS_KEPT,
    Activity,
    DashboardFigures,
    FigureReport,
    Gauge,
    Tally,
)

_log = logging.getLogger(__name__)
SERVER_ERROR = 500


@dataclass(slots=True)
class _Second:
    requests: int = 0
    errors: int = 0
    latency: dict[int, int] = field(default_factory=dict)
    activity: dict[Activity, int] = field(default_factory=dict)

    def add(self, other: "_Second") -> None:
        self.requests += other.requests
        self.errors += other.errors
        for bucket, count in other.latency.items():
            self.latency[bucket] = self.latency.get(bucket, 0) + count
        for kind, count in other.activity.items():
            self.activity[kind] = self.activity.get(kind, 0) + count

    def tally(self, second: int) -> Tally:
        return Tally(
            second=second,
            requests=self.requests,
            errors=self.errors,
            latency=dict(self.latency),
            activity=dict(self.activity),
        )


class FigureRecorder:
    """Counts what this process serves and does, per second, for the dashboard.

    - `request`, `activity` and `seen` only add to counters in memory: they never wait and
      never fail, so counting costs a request nothing it could notice.
    - The counts go to `DashboardFigures` in the background, at most once every
      `interval_seconds`: at once when nothing was sent within the last interval, else one
      interval after the last report. A count reaches the dashboard within an interval.
    - A process that `watch`es a gauge reports every interval even when idle, so the
      dashboard knows it is up and what it holds; one that watches none (a worker)
      reports only what it counted.
    - While the store is unreachable, counts wait for the next report that gets through;
      those older than the store keeps are dropped. The outage is logged once, and its end.
    - `close` sends what is left and withdraws the gauges.
    """

    def __init__(
        self,
        figures: DashboardFigures,
        clock: Clock,
        *,
        process: str,
        interval_seconds: float = 1.0,
    ) -> None:
        self._figures = figures
        self._clock = clock
        self._process = process
        self._interval = interval_seconds
        self._seconds: dict[int, _Second] = {}
        self._users: dict[int, set[str]] = {}
        self._gauges: dict[Gauge, Callable[[], int]] = {}
        self._task: asyncio.Task[None] | None = None
        self._last_report = -math.inf
        self._down = False
        self._closed = False

    @property
    def process(self) -> str:
        """The name this process reports under."""
        return self._process

    def request(self, *, status: int, seconds: float, user: str | None = None) -> None:
        """Count one request answered now: its status, how long it took, who sent it."""
        now = self._clock.now().timestamp()
        second = self._second(int(now))
        second.requests += 1
        if status >= SERVER_ERROR:
            second.errors += 1
        bucket = bucket_of(seconds)
        second.latency[bucket] = second.latency.get(bucket, 0) + 1
        if user is not None:
            self._users.setdefault(int(now) // 60, set()).add(user)
        self._wake()

    def activity(self, kind: Activity, *, at: datetime | None = None) -> None:
        """Count one thing people did, when it happened (default: now)."""
        moment = at or self._clock.now()
        second = self._second(int(moment.timestamp()))
        second.activity[kind] = second.activity.get(kind, 0) + 1
        self._wake()

    def watch(self, gauge: Gauge, read: Callable[[], int]) -> None:
        """Report `read()` as `gauge` with every report, and report every interval from now."""
        self._gauges[gauge] = read
        self._wake()

    async def flush(self) -> None:
        """Send what was counted now, whatever the interval."""
        await self._report()

    async def close(self) -> None:
        """Stop reporting: send what is left and withdraw this process's gauges."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        watched, self._gauges = bool(self._gauges), {}
        await self._report()
        if watched:
            with contextlib.suppress(DependencyUnavailableError):
                await self._figures.forget(self._process)

    def _second(self, second: int) -> _Second:
        found = self._seconds.get(second)
        if found is None:
            found = self._seconds[second] = _Second()
        return found

    def _wake(self) -> None:
        if self._task is not None or self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._task = loop.create_task(self._run(), name="dashboard-figures")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not self._closed:
                wait = self._last_report + self._interval - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._report()
                self._last_report = loop.time()
                if not self._gauges and not self._seconds and not self._users:
                    return
        finally:
            self._task = None

    async def _report(self) -> None:
        now = int(self._clock.now().timestamp())
        seconds = {s: c for s, c in self._seconds.items() if s > now - SECONDS_KEPT}
        users = {m: ids for m, ids in self._users.items() if m > now // 60 - MINUTES_KEPT}
        self._seconds, self._users = {}, {}
        gauges = {gauge: _read(read) for gauge, read in self._gauges.items()} or None
        if not seconds and not users and gauges is None:
            return
        report = FigureReport(
            process=self._process,
            second=now,
            tallies=[counts.tally(second) for second, counts in sorted(seconds.items())],
            active_users={minute: frozenset(ids) for minute, ids in users.items()},
            gauges=gauges,
        )
        try:
            await self._figures.add(report)
        except DependencyUnavailableError as exc:
            self._keep(seconds, users)
            if not self._down:
                self._down = True
                _log.warning("dashboard figures wait: their store is unreachable (%s)", exc)
            return
        except Exception:  # noqa: BLE001 - the background reports must outlive any one failure
            _log.exception("dashboard figures of one report were lost")
            return
        if self._down:
            self._down = False
            _log.warning("dashboard figures flow again: their store is back")

    def _keep(self, seconds: dict[int, _Second], users: dict[int, set[str]]) -> None:
        """Put unsent counts back; the next report drops what grew too old meanwhile."""
        for second, counts in seconds.items():
            self._second(second).add(counts)
        for minute, ids in users.items():
            self._users.setdefault(minute, set()).update(ids)


def _read(read: Callable[[], int]) -> int:
    """A gauge's value; 0 when reading it fails, which must not stop the report."""
    try:
        return int(read())
    except Exception:  # noqa: BLE001 - logged; one gauge must not stop the report
        _log.exception("a dashboard gauge could not be read")
        return 0
