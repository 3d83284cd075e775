"""The live dashboard's stream, as JSON: each `figures` event's data."""

from datetime import UTC, datetime

import msgspec

from application.dashboard.ports import Activity, Backlog
from application.dashboard.views import DashboardSnapshot, LiveFigures, SecondFigures

FIGURES_EVENT = "figures"
"""The name of the stream's event carrying the figures."""


class SecondPoint(msgspec.Struct, kw_only=True, rename="camel"):
    """One second (`t`, unix time) of every process's requests and activity."""

    t: int
    requests: int
    errors: int
    p50_ms: float | None
    p99_ms: float | None
    signups: int
    articles: int
    comments: int

    @classmethod
    def of(cls, second: SecondFigures) -> "SecondPoint":
        """The point of one second."""
        return cls(
            t=second.second,
            requests=second.requests,
            errors=second.errors,
            p50_ms=second.p50_ms,
            p99_ms=second.p99_ms,
            signups=second.activity.get(Activity.SIGNUPS, 0),
            articles=second.activity.get(Activity.ARTICLES, 0),
            comments=second.activity.get(Activity.COMMENTS, 0),
        )


class ActivityCounts(msgspec.Struct, kw_only=True):
    """Sign-ups, new articles and new comments of the last hour."""

    signups: int
    articles: int
    comments: int


class OutboxFigures(msgspec.Struct, kw_only=True, rename="camel"):
    """Events waiting for the relay: how many (at least, when `capped`), and the oldest's age."""

    backlog: int
    capped: bool
    oldest_age_seconds: float | None

    @classmethod
    def of(cls, backlog: Backlog, at: datetime) -> "OutboxFigures":
        """The backlog as of `at`."""
        oldest = backlog.oldest_at
        return cls(
            backlog=backlog.count,
            capped=backlog.capped,
            oldest_age_seconds=None if oldest is None else max(0.0, (at - oldest).total_seconds()),
        )


class DashboardFigures(msgspec.Struct, kw_only=True, rename="camel"):
    """The dashboard at `at`; a figure is null while the store it comes from is unreachable.

    `seconds` are per-second points, oldest first, up to the newest complete second: the
    first event of a stream holds the history asked for, each later one the last few
    seconds again (a point replaces the one with the same `t`). Requests per second, the
    error rate (5xx among all answers) and the p50 and p99 latencies (milliseconds) cover
    the last 10 complete seconds; active users the last 5 minutes; `lastHour` the last
    60 minutes. Live connections are the WebSockets and streams of every API process,
    `apiProcesses` how many reported.
    """

    at: datetime
    seconds: list[SecondPoint]
    requests_per_second: float | None
    error_rate: float | None
    p50_ms: float | None
    p99_ms: float | None
    active_users: int | None
    last_hour: ActivityCounts | None
    live_connections: int | None
    api_processes: int | None
    outbox: OutboxFigures | None
    job_queue_depth: int | None

    @classmethod
    def of(cls, snapshot: DashboardSnapshot) -> "DashboardFigures":
        """The snapshot as the stream sends it."""
        live: LiveFigures | None = snapshot.figures
        at = snapshot.at.astimezone(UTC)
        return cls(
            at=at,
            seconds=[] if live is None else [SecondPoint.of(s) for s in live.seconds],
            requests_per_second=None if live is None else round(live.requests_per_second, 3),
            error_rate=None if live is None else live.error_rate,
            p50_ms=None if live is None else live.p50_ms,
            p99_ms=None if live is None else live.p99_ms,
            active_users=None if live is None else live.active_users,
            last_hour=None
            if live is None
            else ActivityCounts(
                signups=live.last_hour.get(Activity.SIGNUPS, 0),
                articles=live.last_hour.get(Activity.ARTICLES, 0),
                comments=live.last_hour.get(Activity.COMMENTS, 0),
            ),
            live_connections=None if live is None else live.live_connections,
            api_processes=None if live is None else live.api_processes,
            outbox=None if snapshot.outbox is None else OutboxFigures.of(snapshot.outbox, at),
            job_queue_depth=snapshot.job_queue_depth,
        )
