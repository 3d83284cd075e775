"""`make_container`: the one way the HTTP app, the CLI, the worker and the tests get wired."""

from dishka import STRICT_VALIDATION, AsyncContainer, Provider, make_async_container

from entrypoints.config.settings import Settings
from entrypoints.ioc.adapters import (
    CacheProvider,
    DatabaseProvider,
    EventBusProvider,
    HealthProvider,
    RateLimitProvider,
    RedisProvider,
    SecurityProvider,
    SystemProvider,
)
from entrypoints.ioc.application import PolicyProvider, UseCaseProvider
from entrypoints.ioc.audit import AuditPolicyProvider, AuditUseCaseProvider
from entrypoints.ioc.config import ConfigProvider
from entrypoints.ioc.dashboard import DashboardProvider
from entrypoints.ioc.delivery import DeliveryProvider, SmsProvider, TaskQueueProvider
from entrypoints.ioc.events import EventHandlerProvider
from entrypoints.ioc.files import FilePolicyProvider, FileStorageProvider, FileUseCaseProvider
from entrypoints.ioc.notifications import (
    NotificationPolicyProvider,
    NotificationStoreProvider,
    NotificationUseCaseProvider,
    PushProvider,
    RealtimeProvider,
)
from entrypoints.ioc.observability import MetricsProvider


def default_providers() -> list[Provider]:
    """The production wiring, layer by layer."""
    return [
        ConfigProvider(),
        SystemProvider(),
        MetricsProvider(),
        DatabaseProvider(),
        RedisProvider(),
        SecurityProvider(),
        RateLimitProvider(),
        CacheProvider(),
        EventBusProvider(),
        HealthProvider(),
        DeliveryProvider(),
        SmsProvider(),
        TaskQueueProvider(),
        PolicyProvider(),
        UseCaseProvider(),
        NotificationStoreProvider(),
        RealtimeProvider(),
        PushProvider(),
        NotificationPolicyProvider(),
        NotificationUseCaseProvider(),
        FileStorageProvider(),
        FilePolicyProvider(),
        FileUseCaseProvider(),
        AuditPolicyProvider(),
        AuditUseCaseProvider(),
        EventHandlerProvider(),
        DashboardProvider(),
    ]


def make_container(settings: Settings, *overrides: Provider) -> AsyncContainer:
    """Build the container; providers in `overrides` replace the defaults they overlap.

    `settings.database.url` must already point at a server (the entrypoints start the
    embedded one first). Close the container to dispose of the engine and the clients.
    """
    return make_async_container(
        *default_providers(),
        *overrides,
        context={Settings: settings},
        validation_settings=STRICT_VALIDATION,
    )
