"""The root of the settings: every section, in the order the reference lists them."""

import msgspec

from entrypoints.config.settings.background import (
    KafkaSettings,
    OutboxSettings,
    QueueSettings,
    SchedulerSettings,
)
from entrypoints.config.settings.messaging import (
    MailSettings,
    NotificationSettings,
    PushSettings,
    SmsSettings,
)
from entrypoints.config.settings.observability import DashboardSettings, MetricsSettings
from entrypoints.config.settings.process import (
    AppSettings,
    CorsSettings,
    ExternalApiSettings,
    LinksSettings,
    WebSocketSettings,
)
from entrypoints.config.settings.security import AuditSettings, AuthSettings, RateLimitSettings
from entrypoints.config.settings.storage import CacheSettings, DatabaseSettings, StorageSettings


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything the process can be told, validated before anything starts."""

    app: AppSettings = msgspec.field(default_factory=AppSettings)
    cors: CorsSettings = msgspec.field(default_factory=CorsSettings)
    links: LinksSettings = msgspec.field(default_factory=LinksSettings)
    database: DatabaseSettings = msgspec.field(default_factory=DatabaseSettings)
    auth: AuthSettings = msgspec.field(default_factory=AuthSettings)
    audit: AuditSettings = msgspec.field(default_factory=AuditSettings)
    cache: CacheSettings = msgspec.field(default_factory=CacheSettings)
    mail: MailSettings = msgspec.field(default_factory=MailSettings)
    sms: SmsSettings = msgspec.field(default_factory=SmsSettings)
    push: PushSettings = msgspec.field(default_factory=PushSettings)
    storage: StorageSettings = msgspec.field(default_factory=StorageSettings)
    kafka: KafkaSettings = msgspec.field(default_factory=KafkaSettings)
    outbox: OutboxSettings = msgspec.field(default_factory=OutboxSettings)
    scheduler: SchedulerSettings = msgspec.field(default_factory=SchedulerSettings)
    queue: QueueSettings = msgspec.field(default_factory=QueueSettings)
    rate_limit: RateLimitSettings = msgspec.field(default_factory=RateLimitSettings)
    websocket: WebSocketSettings = msgspec.field(default_factory=WebSocketSettings)
    notifications: NotificationSettings = msgspec.field(default_factory=NotificationSettings)
    external_api: ExternalApiSettings = msgspec.field(default_factory=ExternalApiSettings)
    metrics: MetricsSettings = msgspec.field(default_factory=MetricsSettings)
    dashboard: DashboardSettings = msgspec.field(default_factory=DashboardSettings)

    @property
    def is_production(self) -> bool:
        """Whether the strict production rules apply."""
        return self.app.env == "production"

    @property
    def api_relays_outbox(self) -> bool:
        """Whether each API process relays the outbox: as told, else when the bus is in-process."""
        if self.outbox.relay_in_api is not None:
            return self.outbox.relay_in_api
        return self.kafka.bootstrap_servers is None and self.outbox.bus == "auto"

    @property
    def api_sends_mail(self) -> bool:
        """Whether jobs, and so emails, run in the API process that enqueued them."""
        return self.queue.backend == "in-process"
