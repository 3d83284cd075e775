"""The dashboard's ports: figures shared by every process, and the backlogs it watches."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

SECONDS_KEPT = 600
"""How long a second's figures stay readable, in seconds."""
MINUTES_KEPT = 120
"""How long a minute's activity and active users stay readable, in minutes."""
GAUGE_SILENCE = 5
"""A process's gauges count while its latest report is at most this many seconds old."""


class Activity(StrEnum):
    """What people did that the dashboard counts."""

    SIGNUPS = "signups"
    ARTICLES = "articles"
    COMMENTS = "comments"


class Gauge(StrEnum):
    """What a process holds right now, reported with each flush."""

    LIVE_CONNECTIONS = "live_connections"


@dataclass(frozen=True, slots=True, kw_only=True)
class Tally:
    """What was counted in one second (unix time), by one process or by all of them.

    `errors` are the requests answered with a 5xx; `latency` maps a bucket
    (`application.dashboard.latency`) to how many requests fell in it.
    """

    second: int
    requests: int = 0
    errors: int = 0
    latency: Mapping[int, int] = field(default_factory=dict)
    activity: Mapping[Activity, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class FigureReport:
    """What one process hands over at one flush.

    `active_users` maps a minute (unix time // 60) to the users seen in it. `gauges` is
    None from a process that holds nothing to report (a worker).
    """

    process: str
    second: int
    tallies: Sequence[Tally] = ()
    active_users: Mapping[int, frozenset[str]] = field(default_factory=dict)
    gauges: Mapping[Gauge, int] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FigureQuery:
    """Which figures to read, as of second `now`.

    The seconds from `first_second` to `last_second`, both included (at most
    `SECONDS_KEPT`); activity over the `activity_minutes` minutes ending with the minute of
    `now`, and distinct users over the `active_minutes` ending with it (each at most
    `MINUTES_KEPT`).
    """

    now: int
    first_second: int
    last_second: int
    activity_minutes: int
    active_minutes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FigureWindow:
    """The figures of every process together.

    `seconds` holds one tally per second asked, oldest first, zero where nothing was
    counted; `processes` is how many processes reported gauges within `GAUGE_SILENCE`
    seconds of `now`, and `gauges` their sums.
    """

    seconds: Sequence[Tally]
    activity: Mapping[Activity, int]
    active_users: int
    gauges: Mapping[Gauge, int]
    processes: int


class DashboardFigures(Protocol):
    """Figures every process adds to and any process reads back, per second and per minute.

    Contract:
    - `add` adds a report to what is stored: counts of the same second or minute from any
      number of reports and processes add up; users seen in the same minute by several
      processes count once. A tally's activity counts in its second and in its minute.
    - A report with gauges replaces that process's gauges; they count until its latest
      report is more than `GAUGE_SILENCE` seconds older than the `now` read at.
    - `read` answers a `FigureQuery`; seconds and minutes not yet reported read as zero,
      and what is older than `SECONDS_KEPT` or `MINUTES_KEPT` may be gone.
    - Raises DependencyUnavailableError when the store cannot be reached.
    """

    async def add(self, report: FigureReport) -> None:
        """Add one process's counts, users and gauges."""
        ...

    async def read(self, query: FigureQuery) -> FigureWindow:
        """The figures of every process for `query`."""
        ...

    async def forget(self, process: str) -> None:
        """Drop a stopping process's gauges, so it stops counting at once."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Backlog:
    """Events waiting in the outbox: how many (at least `count` when `capped`), and the oldest."""

    count: int
    capped: bool
    oldest_at: datetime | None


class OutboxBacklog(Protocol):
    """How far the outbox relay is behind, cheaply enough to ask every second.

    `backlog` counts unsent events up to `cap`, and says when the oldest of them occurred.
    Raises DependencyUnavailableError when the database cannot be reached.
    """

    async def backlog(self, *, cap: int) -> Backlog:
        """The unsent events, counted up to `cap`."""
        ...


class JobQueueDepth(Protocol):
    """How many background jobs wait or run, across every worker.

    `depth` counts the jobs enqueued and not yet finished: waiting for a worker, running,
    or waiting to be retried. Raises DependencyUnavailableError when the queue's store
    cannot be reached.
    """

    async def depth(self) -> int:
        """The jobs not finished yet."""
        ...
