"""Watching the service: Prometheus metrics and the live dashboard (docs/observability.md)."""

from typing import Annotated, Literal

from entrypoints.config.settings.section import Port, Section, from_env

MIN_METRICS_TOKEN_BYTES = 32
"""A bearer token as hard to guess as the other secrets: `METRICS_MODE=token` refuses less."""


class MetricsSettings(Section, frozen=True, kw_only=True):
    """Prometheus metrics: whether `GET /metrics` exists, where, and who may read it."""

    mode: Annotated[
        Literal["off", "port", "token"],
        from_env(
            "METRICS_MODE",
            "`off`: no `/metrics` anywhere; `port`: open on METRICS_PORT (and "
            "METRICS_WORKER_PORT), not on the API's port; `token`: on the API's port "
            "behind `Authorization: Bearer` METRICS_TOKEN.",
        ),
    ] = "off"
    host: Annotated[
        str | None,
        from_env("METRICS_HOST", "Interface the metrics ports bind to; unset: APP_HOST."),
    ] = None
    port: Annotated[
        Port,
        from_env(
            "METRICS_PORT",
            "With `port`: where every `portico serve` process answers `GET /metrics` for "
            "all of them.",
        ),
    ] = 9464
    worker_port: Annotated[
        Port,
        from_env(
            "METRICS_WORKER_PORT",
            "Where `portico worker` answers `GET /metrics` (with `port`, open; with "
            "`token`, behind the token).",
        ),
    ] = 9465
    token: Annotated[
        str | None,
        from_env(
            "METRICS_TOKEN",
            f"With `token`: the bearer token a scraper sends, at least "
            f"{MIN_METRICS_TOKEN_BYTES} bytes.",
            secret=True,
        ),
    ] = None
    multiprocess_dir: Annotated[
        str | None,
        from_env(
            "METRICS_MULTIPROCESS_DIR",
            "Where the worker processes of one `portico serve` keep their counts, emptied "
            "when it starts (one directory per `portico serve`); unset: a temporary "
            "directory, removed on exit.",
        ),
    ] = None
    refresh_seconds: Annotated[
        float,
        from_env(
            "METRICS_REFRESH_SECONDS",
            "The outbox backlog and the job queue depth are read from the database and "
            "Redis at most this often per process, however often it is scraped.",
            ge=1,
            le=3600,
        ),
    ] = 10.0

    @property
    def enabled(self) -> bool:
        """Whether this process counts anything at all."""
        return self.mode != "off"

    def __repr__(self) -> str:
        shown = "None" if self.token is None else "'***'"
        return f"MetricsSettings(mode={self.mode!r}, port={self.port!r}, token={shown})"


class DashboardSettings(Section, frozen=True, kw_only=True):
    """The live admin dashboard at `/admin`."""

    tick_seconds: Annotated[
        float,
        from_env(
            "DASHBOARD_TICK_SECONDS",
            "How often each open dashboard gets fresh figures and audit entries.",
            ge=0.2,
            le=60,
        ),
    ] = 0.5
