"""Providers for what the service tells its watchers: the metrics ports and the scrape."""

from dishka import AnyOf, AsyncContainer, Marker, Provider, Scope, activate, provide

from adapters.inprocess.metrics import NO_METRICS, NoMetrics
from adapters.prometheus.metrics import PrometheusMetrics
from application.common.ports.clock import Clock
from application.common.ports.metrics import (
    CacheMetrics,
    ConsumerMetrics,
    DatabasePoolMetrics,
    DeliveryMetrics,
    JobMetrics,
    LiveConnectionMetrics,
    LoginMetrics,
    RateLimitMetrics,
    RelayMetrics,
)
from entrypoints.config.settings import Settings
from entrypoints.http.metrics.scrape import MetricsScrape
from entrypoints.multiprocess_metrics import multiprocess_directory_in_use

METRICS = Marker("metrics")
"""METRICS_MODE is not `off`."""

MetricsPorts = AnyOf[
    LoginMetrics,
    DeliveryMetrics,
    RelayMetrics,
    ConsumerMetrics,
    JobMetrics,
    CacheMetrics,
    RateLimitMetrics,
    LiveConnectionMetrics,
    DatabasePoolMetrics,
]


class MetricsProvider(Provider):
    """Prometheus behind every metrics port when METRICS_MODE is set; else nothing counts.

    One `PrometheusMetrics` per container, counting into the directory PROMETHEUS_MULTIPROC_DIR
    names when the process was started with it (`portico serve`), else into its own registry.
    """

    scope = Scope.APP

    @activate(METRICS)
    def metrics_on(self, settings: Settings) -> bool:
        """METRICS_MODE is `port` or `token`."""
        return settings.metrics.enabled

    @provide(
        provides=AnyOf[
            PrometheusMetrics,
            LoginMetrics,
            DeliveryMetrics,
            RelayMetrics,
            ConsumerMetrics,
            JobMetrics,
            CacheMetrics,
            RateLimitMetrics,
            LiveConnectionMetrics,
            DatabasePoolMetrics,
        ],
        when=METRICS,
    )
    def prometheus(self) -> PrometheusMetrics:
        """The metrics, shared by every process of the server when it runs several."""
        return PrometheusMetrics(multiprocess_dir=multiprocess_directory_in_use())

    @provide(provides=MetricsPorts, when=~METRICS)
    def uncounted(self) -> NoMetrics:
        """Metrics are off: every count is a call that does nothing."""
        return NO_METRICS

    @provide(when=METRICS)
    def scrape(
        self,
        metrics: PrometheusMetrics,
        container: AsyncContainer,
        clock: Clock,
        settings: Settings,
    ) -> MetricsScrape:
        """The exposition, with the backlogs read at most every METRICS_REFRESH_SECONDS."""
        return MetricsScrape(
            metrics, container, clock=clock, refresh_seconds=settings.metrics.refresh_seconds
        )
