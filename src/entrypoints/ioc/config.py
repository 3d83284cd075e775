"""Settings enter the container as context; activators read them to switch adapters on."""

from dishka import Provider, Scope, activate, from_context

from entrypoints.config.settings import Settings
from entrypoints.ioc.markers import (
    EVENTS_ON_REDIS,
    JOBS_ON_REDIS,
    KAFKA,
    KAFKA_PROBED,
    PUSH,
    REDIS,
    SMS,
    SMTP,
    SMTP_PROBED,
)


class ConfigProvider(Provider):
    """Exposes the validated settings in APP scope, and which optional services are set."""

    settings = from_context(provides=Settings, scope=Scope.APP)

    @activate(REDIS)
    def redis_configured(self, settings: Settings) -> bool:
        """REDIS_URL is set."""
        return settings.cache.redis_url is not None

    @activate(KAFKA)
    def kafka_configured(self, settings: Settings) -> bool:
        """KAFKA_BOOTSTRAP_SERVERS is set."""
        return settings.kafka.bootstrap_servers is not None

    @activate(SMTP)
    def smtp_configured(self, settings: Settings) -> bool:
        """SMTP_HOST is set."""
        return settings.mail.smtp_host is not None

    @activate(KAFKA_PROBED)
    def kafka_serves_this_api(self, settings: Settings) -> bool:
        """Kafka is configured and the API process publishes to it (it relays the outbox)."""
        return settings.kafka.bootstrap_servers is not None and settings.api_relays_outbox

    @activate(SMTP_PROBED)
    def smtp_serves_this_api(self, settings: Settings) -> bool:
        """SMTP is configured and the API process sends mail itself (jobs run in-process)."""
        return settings.mail.smtp_host is not None and settings.api_sends_mail

    @activate(JOBS_ON_REDIS)
    def jobs_on_redis(self, settings: Settings) -> bool:
        """JOBS_QUEUE is `redis`."""
        return settings.queue.backend == "redis"

    @activate(EVENTS_ON_REDIS)
    def events_on_redis(self, settings: Settings) -> bool:
        """EVENT_BUS is `redis-streams`."""
        return settings.outbox.bus == "redis-streams"

    @activate(SMS)
    def sms_configured(self, settings: Settings) -> bool:
        """SMS_BASE_URL (with its companions) is set."""
        return settings.sms.base_url is not None

    @activate(PUSH)
    def push_configured(self, settings: Settings) -> bool:
        """PUSH_VAPID_PRIVATE_KEY is set."""
        return settings.push.vapid_private_key is not None
