"""What a process runs for its metrics beside the counts taken where things happen."""

import asyncio
import contextlib
from typing import TYPE_CHECKING

from dishka import AsyncContainer
from loguru import logger

from adapters.prometheus.metrics import PrometheusMetrics
from entrypoints.config.settings import Settings
from entrypoints.http.metrics.scrape import MetricsScrape
from entrypoints.http.middleware.observe import RequestObservation, RequestObservers

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from entrypoints.http.metrics.port import MetricsPort

POOL_SAMPLE_SECONDS = 2.0
"""How often each process reports its database pool's gauges."""


class PrometheusRequestObserver:
    """Counts each answered request in the Prometheus metrics (a `RequestObserver`)."""

    def __init__(self, metrics: PrometheusMetrics) -> None:
        self._served = metrics.request_served

    def observe(self, observation: RequestObservation) -> None:
        """Count the request and its latency."""
        self._served(observation.route, observation.method, observation.status, observation.seconds)


class ProcessMetrics:
    """The HTTP observer, the pool's sampler and, if asked, a metrics port, for one process.

    Nothing happens when METRICS_MODE is off. Otherwise `start` registers the observer
    (an API process), samples the pool now and every `POOL_SAMPLE_SECONDS`, and serves
    `GET /metrics` on `port` (behind `token` when given) until `stop`.
    """

    def __init__(
        self, settings: Settings, *, port: int | None, token: str | None, reuse_port: bool
    ) -> None:
        self._settings = settings
        self._port = port
        self._token = token
        self._reuse_port = reuse_port
        self._server: MetricsPort | None = None
        self._sampler: asyncio.Task[None] | None = None

    @classmethod
    def for_api(cls, settings: Settings) -> "ProcessMetrics":
        """An API process: its own port in `port` mode (shared by the server's processes)."""
        metrics = settings.metrics
        port = metrics.port if metrics.mode == "port" else None
        return cls(settings, port=port, token=None, reuse_port=True)

    @classmethod
    def for_worker(cls, settings: Settings) -> "ProcessMetrics":
        """`portico worker`: METRICS_WORKER_PORT, behind the token in `token` mode."""
        metrics = settings.metrics
        token = metrics.token if metrics.mode == "token" else None
        return cls(settings, port=metrics.worker_port, token=token, reuse_port=False)

    async def start(
        self, container: AsyncContainer, observers: RequestObservers | None = None
    ) -> None:
        """Begin; OSError when the metrics port cannot be bound."""
        if not self._settings.metrics.enabled:
            return
        # Only with metrics on: SQLAlchemy's asyncio layer and aiohttp's server cost every
        # process a third of a second to import.
        from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: PLC0415

        from entrypoints.http.metrics.port import MetricsPort  # noqa: PLC0415

        metrics = await container.get(PrometheusMetrics)
        if observers is not None:
            observers.add(PrometheusRequestObserver(metrics))
            observers.in_flight = metrics.in_flight
            observers.queue_wait = metrics.queue_waited
        engine = await container.get(AsyncEngine)
        self._sampler = asyncio.create_task(self._sample(engine, metrics), name="metrics-pool")
        if self._port is not None:
            scrape = await container.get(MetricsScrape)
            host = self._settings.metrics.host or self._settings.app.host
            server = MetricsPort(
                scrape.render,
                host=host,
                port=self._port,
                token=self._token,
                reuse_port=self._reuse_port,
            )
            await server.start()
            self._server = server
            logger.info("metrics on http://{}:{}/metrics", host, self._port)

    async def stop(self) -> None:
        """Stop serving and sampling."""
        if self._server is not None:
            await self._server.stop()
            self._server = None
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
            self._sampler = None

    async def _sample(self, engine: "AsyncEngine", metrics: PrometheusMetrics) -> None:
        from adapters.sqlalchemy.pool_metrics import sample_pool  # noqa: PLC0415 - see start

        database = self._settings.database
        capacity = database.pool_size + database.max_overflow
        while True:
            sample_pool(engine, metrics, capacity=capacity)
            await asyncio.sleep(POOL_SAMPLE_SECONDS)
