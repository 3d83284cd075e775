"""What the dashboard shows, as `ReadDashboard` answers it."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from application.dashboard.ports import Activity, Backlog


@dataclass(frozen=True, slots=True, kw_only=True)
class SecondFigures:
    """One second of every process's requests and activity; latencies in milliseconds."""

    second: int
    requests: int
    errors: int
    p50_ms: float | None
    p99_ms: float | None
    activity: Mapping[Activity, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveFigures:
    """What every process counted: per second, over the last seconds, and right now.

    `requests_per_second`, `error_rate` (the share answered with a 5xx, None without
    requests) and the percentiles cover the last `HEADLINE_SECONDS` settled seconds;
    `active_users` the last `ACTIVE_MINUTES` minutes; `last_hour` the last 60 minutes.
    """

    seconds: Sequence[SecondFigures]
    requests_per_second: float
    error_rate: float | None
    p50_ms: float | None
    p99_ms: float | None
    active_users: int
    last_hour: Mapping[Activity, int]
    live_connections: int
    api_processes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DashboardSnapshot:
    """The dashboard at one moment; a part is None while the store it comes from is down."""

    at: datetime
    figures: LiveFigures | None
    outbox: Backlog | None
    job_queue_depth: int | None
