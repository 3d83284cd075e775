"""The dashboard's figures in this process: embedded mode, where one process serves everything."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from application.dashboard.ports import (
    GAUGE_SILENCE,
    MINUTES_KEPT,
    SECONDS_KEPT,
    Activity,
    DashboardFigures,
    FigureQuery,
    FigureReport,
    FigureWindow,
    Gauge,
    Tally,
)

_K = TypeVar("_K")


@dataclass(slots=True)
class _Counts:
    requests: int = 0
    errors: int = 0
    latency: dict[int, int] = field(default_factory=dict)
    activity: dict[Activity, int] = field(default_factory=dict)

    def add(self, tally: Tally) -> None:
        self.requests += tally.requests
        self.errors += tally.errors
        _add_to(self.latency, tally.latency)
        _add_to(self.activity, tally.activity)


class InProcessDashboardFigures(DashboardFigures):
    """The `DashboardFigures` port in this process's memory.

    For embedded mode, where one process serves everything (and the memory twin in
    tests); figures older than the port keeps are dropped as newer ones arrive.
    """

    def __init__(self) -> None:
        self._seconds: dict[int, _Counts] = {}
        self._minutes: dict[int, dict[Activity, int]] = {}
        self._users: dict[int, set[str]] = {}
        self._gauges: dict[str, tuple[int, Mapping[Gauge, int]]] = {}

    async def add(self, report: FigureReport) -> None:
        """Add the report's counts under their seconds and minutes; replace its gauges."""
        for tally in report.tallies:
            self._seconds.setdefault(tally.second, _Counts()).add(tally)
            _add_to(self._minutes.setdefault(tally.second // 60, {}), tally.activity)
        for minute, users in report.active_users.items():
            self._users.setdefault(minute, set()).update(users)
        if report.gauges is not None:
            self._gauges[report.process] = (report.second, dict(report.gauges))
        self._drop_before(report.second)

    async def read(self, query: FigureQuery) -> FigureWindow:
        """Sum what every report brought."""
        seconds = []
        for second in range(query.first_second, query.last_second + 1):
            counts = self._seconds.get(second, _Counts())
            seconds.append(
                Tally(
                    second=second,
                    requests=counts.requests,
                    errors=counts.errors,
                    latency=dict(counts.latency),
                    activity=dict(counts.activity),
                )
            )
        minute = query.now // 60
        activity: dict[Activity, int] = {}
        for earlier in range(query.activity_minutes):
            _add_to(activity, self._minutes.get(minute - earlier, {}))
        users: set[str] = set()
        for earlier in range(query.active_minutes):
            users |= self._users.get(minute - earlier, set())
        gauges: dict[Gauge, int] = {}
        processes = 0
        for reported_at, values in self._gauges.values():
            if query.now - reported_at <= GAUGE_SILENCE:
                processes += 1
                _add_to(gauges, values)
        return FigureWindow(
            seconds=seconds,
            activity=activity,
            active_users=len(users),
            gauges=gauges,
            processes=processes,
        )

    async def forget(self, process: str) -> None:
        """Drop the process's gauges."""
        self._gauges.pop(process, None)

    def _drop_before(self, now: int) -> None:
        for second in [s for s in self._seconds if s <= now - SECONDS_KEPT]:
            del self._seconds[second]
        oldest_minute = now // 60 - MINUTES_KEPT
        for minutes in (self._minutes, self._users):
            for minute in [m for m in minutes if m <= oldest_minute]:
                del minutes[minute]


def _add_to(total: dict[_K, int], counts: Mapping[_K, int]) -> None:
    for key, count in counts.items():
        total[key] = total.get(key, 0) + count
