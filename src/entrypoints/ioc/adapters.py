"""Providers for the real adapters, chosen by settings."""

from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import timedelta

from dishka import AsyncContainer, Provider, Scope, collect, decorate, provide
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.cache.articles import CachingArticleReader
from adapters.inprocess.cache import InProcessCache
from adapters.inprocess.event_bus import InProcessEventBus
from adapters.inprocess.rate_limiter import InProcessRateLimiter
from adapters.kafka.health import KafkaProbe
from adapters.kafka.publisher import KafkaEventPublisher
from adapters.redis.cache import RedisCache
from adapters.redis.client import create_redis_client
from adapters.redis.event_publisher import RedisStreamsEventPublisher
from adapters.redis.health import RedisProbe
from adapters.redis.rate_limiter import RedisRateLimiter
from adapters.security.argon2_hasher import Argon2PasswordHasher
from adapters.security.device_trust import HmacDeviceTrust
from adapters.security.jwt_tokens import JwtTokenIssuer
from adapters.security.opaque_tokens import HmacOpaqueTokens
from adapters.smtp.health import SmtpProbe
from adapters.sqlalchemy.article_reader import SqlArticleReader, SqlCommentReader
from adapters.sqlalchemy.articles import SqlArticleRepository, SqlCommentRepository
from adapters.sqlalchemy.audit import SqlAlchemyAuditLog, SqlAlchemyAuditMaintenance
from adapters.sqlalchemy.engine import create_engine
from adapters.sqlalchemy.health import SqlDatabaseProbe
from adapters.sqlalchemy.one_time_tokens import SqlOneTimeTokenRepository
from adapters.sqlalchemy.outbox import SqlOutboxReader, SqlOutboxStore
from adapters.sqlalchemy.processed_events import SqlProcessedEvents
from adapters.sqlalchemy.profiles import SqlProfileReader
from adapters.sqlalchemy.request_connection import RequestConnection
from adapters.sqlalchemy.sessions import SqlSessionRepository
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from adapters.sqlalchemy.users import SqlUserRepository
from adapters.system.clock import SystemClock
from adapters.system.uuid7 import Uuid7Generator
from application.articles.ports import (
    ArticleReader,
    ArticleRepository,
    CommentReader,
    CommentRepository,
)
from application.articles.read_cache import ContentReadCache
from application.audit.ports import AuditLog, AuditMaintenance
from application.common.ports.cache import Cache
from application.common.ports.clock import Clock
from application.common.ports.events import EventPublisher
from application.common.ports.ids import IdGenerator
from application.common.ports.metrics import CacheMetrics, ConsumerMetrics, DatabasePoolMetrics
from application.common.ports.opaque_tokens import OpaqueTokens
from application.common.ports.rate_limits import RateLimiter
from application.common.ports.unit_of_work import UnitOfWork
from application.events.ports import OutboxReader, OutboxStore, ProcessedEvents
from application.events.received_event import ReceivedEvent
from application.health.ports import HealthProbe
from application.profiles.ports import ProfileReader
from application.users.ports import (
    DeviceTrust,
    OneTimeTokenRepository,
    PasswordHasher,
    SessionRepository,
    TokenIssuer,
    UserRepository,
)
from entrypoints.config.settings import Settings
from entrypoints.ioc.markers import EVENTS_ON_REDIS, KAFKA, KAFKA_PROBED, REDIS, SMTP_PROBED
from entrypoints.worker.dispatch import dispatch
from entrypoints.worker.handler_table import HandlerTable


class SystemProvider(Provider):
    """The wall clock and time-ordered ids."""

    scope = Scope.APP
    clock = provide(SystemClock, provides=Clock)
    ids = provide(Uuid7Generator, provides=IdGenerator)


class DatabaseProvider(Provider):
    """PostgreSQL: one engine per process, one connection and transaction per request."""

    @provide(scope=Scope.APP)
    async def engine(self, settings: Settings) -> AsyncIterator[AsyncEngine]:
        """Build the engine from DATABASE_URL, which must be resolved by now."""
        database = settings.database
        if database.url is None:
            raise RuntimeError("DATABASE_URL must be resolved before the container is built")
        engine = create_engine(
            database.url,
            pool_size=database.pool_size,
            max_overflow=database.max_overflow,
            pool_timeout_seconds=database.pool_timeout_seconds,
            connect_timeout_seconds=database.connect_timeout_seconds,
            application_name=settings.app.name,
            autocommit=True,
            retry_after_seconds=database.retry_after_seconds,
        )
        yield engine
        await engine.dispose()

    @provide(scope=Scope.REQUEST)
    async def connection(
        self, engine: AsyncEngine, settings: Settings, pool_metrics: DatabasePoolMetrics
    ) -> AsyncIterator[AsyncConnection]:
        """The request's connection, checked out by its first statement; returned when it ends.

        The engine runs in autocommit: a read outside a unit of work is one statement that
        sees committed data, with no BEGIN and ROLLBACK around it. A unit of work switches
        the connection to a real transaction for its writes, and back when it ends. A
        request the cache answers never checks one out (`RequestConnection`).
        """
        database = settings.database
        connection = RequestConnection(
            engine,
            retry_after_seconds=database.retry_after_seconds,
            pool_metrics=pool_metrics,
            pool_capacity=database.pool_size + database.max_overflow,
        )
        try:
            yield connection
        finally:
            await connection.close()

    @provide(scope=Scope.REQUEST)
    def unit_of_work(
        self, connection: AsyncConnection, ids: IdGenerator, clock: Clock, settings: Settings
    ) -> UnitOfWork:
        """The request's unit of work, dating its audit entries by the app's clock."""
        return SqlAlchemyUnitOfWork(connection, ids, clock, audit=settings.audit.enabled)

    audit_log = provide(SqlAlchemyAuditLog, provides=AuditLog, scope=Scope.REQUEST)
    audit_maintenance = provide(
        SqlAlchemyAuditMaintenance, provides=AuditMaintenance, scope=Scope.REQUEST
    )
    outbox_reader = provide(SqlOutboxReader, provides=OutboxReader, scope=Scope.REQUEST)
    outbox_store = provide(SqlOutboxStore, provides=OutboxStore, scope=Scope.REQUEST)
    processed_events = provide(SqlProcessedEvents, provides=ProcessedEvents, scope=Scope.REQUEST)
    users = provide(SqlUserRepository, provides=UserRepository, scope=Scope.REQUEST)
    sessions = provide(SqlSessionRepository, provides=SessionRepository, scope=Scope.REQUEST)
    one_time_tokens = provide(
        SqlOneTimeTokenRepository, provides=OneTimeTokenRepository, scope=Scope.REQUEST
    )
    profiles = provide(SqlProfileReader, provides=ProfileReader, scope=Scope.REQUEST)
    articles = provide(SqlArticleRepository, provides=ArticleRepository, scope=Scope.REQUEST)
    comments = provide(SqlCommentRepository, provides=CommentRepository, scope=Scope.REQUEST)
    article_reader = provide(SqlArticleReader, provides=ArticleReader, scope=Scope.REQUEST)
    comment_reader = provide(SqlCommentReader, provides=CommentReader, scope=Scope.REQUEST)


class SecurityProvider(Provider):
    """argon2id hashing in a bounded pool, and JWT access tokens."""

    scope = Scope.APP

    @provide
    def password_hasher(self, settings: Settings) -> Iterator[PasswordHasher]:
        """One pool of hashing threads per process, shut down with the container."""
        auth = settings.auth
        hasher = Argon2PasswordHasher(
            time_cost=auth.password_hash_time_cost,
            memory_kib=auth.password_hash_memory_kib,
            parallelism=auth.password_hash_parallelism,
            max_concurrency=auth.password_hash_threads,
            niceness=auth.password_hash_niceness,
        )
        yield hasher
        hasher.close()

    @provide
    def opaque_tokens(self, settings: Settings) -> OpaqueTokens:
        """Refresh and one-time tokens, fingerprinted under a key derived from JWT_SECRET."""
        if settings.auth.jwt_secret is None:
            raise RuntimeError("JWT_SECRET must be resolved before the container is built")
        return HmacOpaqueTokens(key=f"{settings.auth.jwt_secret}:opaque-tokens")

    @provide
    def device_trust(self, settings: Settings, clock: Clock) -> DeviceTrust:
        """Device cookies, signed under a key derived from JWT_SECRET."""
        if settings.auth.jwt_secret is None:
            raise RuntimeError("JWT_SECRET must be resolved before the container is built")
        return HmacDeviceTrust(
            key=f"{settings.auth.jwt_secret}:device-cookies",
            ttl=timedelta(seconds=settings.rate_limit.login_device_ttl_seconds),
            clock=clock,
        )

    @provide
    def token_issuer(self, settings: Settings, clock: Clock, ids: IdGenerator) -> TokenIssuer:
        """Sign with JWT_SECRET, which must be resolved by now."""
        auth = settings.auth
        if auth.jwt_secret is None:
            raise RuntimeError("JWT_SECRET must be resolved before the container is built")
        return JwtTokenIssuer(
            secret=auth.jwt_secret,
            algorithm=auth.jwt_algorithm,
            issuer=auth.jwt_issuer,
            audience=auth.jwt_audience,
            ttl=timedelta(seconds=auth.access_token_ttl_seconds),
            clock=clock,
            ids=ids,
        )


class RedisProvider(Provider):
    """One Redis client per process, shared by every adapter that needs Redis."""

    @provide(scope=Scope.APP, when=REDIS)
    async def client(self, settings: Settings) -> AsyncIterator[Redis]:
        """Connect lazily to REDIS_URL; closed with the container."""
        assert settings.cache.redis_url is not None  # noqa: S101 - guaranteed by the marker
        client = create_redis_client(
            settings.cache.redis_url,
            timeout_seconds=settings.app.readiness_timeout_seconds,
            client_name=settings.app.name,
        )
        yield client
        await client.aclose()


class RateLimitProvider(Provider):
    """Counters in Redis when it is configured (shared by every process), else in memory."""

    scope = Scope.APP

    memory = provide(InProcessRateLimiter, provides=RateLimiter, when=~REDIS)

    @provide(provides=RateLimiter, when=REDIS)
    def redis(self, client: Redis) -> RedisRateLimiter:
        """GCRA in a Lua script on the shared client."""
        return RedisRateLimiter(client)


class CacheProvider(Provider):
    """The cache in Redis when it is configured, else in the process; and what it serves."""

    scope = Scope.APP
    read_cache = provide(ContentReadCache)

    @provide(provides=Cache, when=~REDIS)
    def memory(self) -> InProcessCache:
        """A bounded LRU cache private to this process."""
        return InProcessCache()

    @provide(provides=Cache, when=REDIS)
    def redis(self, client: Redis) -> RedisCache:
        """Entries on the shared client, seen and invalidated by every process."""
        return RedisCache(client)

    @decorate(scope=Scope.REQUEST)
    def cached_content(
        self, reader: ArticleReader, cache: Cache, settings: Settings, metrics: CacheMetrics
    ) -> ArticleReader:
        """Serve anonymous reads from the cache when that is safe.

        An in-process cache is only safe with one worker: another worker could not see
        the invalidations, and would serve stale reads until they expire.
        """
        cache_settings = settings.cache
        shared = cache_settings.redis_url is not None or settings.app.workers == 1
        if not (cache_settings.content_enabled and shared):
            return reader
        return CachingArticleReader(
            reader, cache, ttl_seconds=cache_settings.content_ttl_seconds, metrics=metrics
        )


class EventBusProvider(Provider):
    """Kafka when it is configured; else an in-process bus."""

    scope = Scope.APP

    @provide(provides=EventPublisher, when=EVENTS_ON_REDIS)
    def redis_streams(self, client: Redis, settings: Settings) -> RedisStreamsEventPublisher:
        """Streams named like Kafka's topics (KAFKA_TOPIC_PREFIX), on the shared client."""
        return RedisStreamsEventPublisher(client, stream_prefix=settings.kafka.topic_prefix)

    @provide(provides=EventPublisher, when=~KAFKA & ~EVENTS_ON_REDIS)
    def in_process(
        self,
        container: AsyncContainer,
        handlers: HandlerTable,
        settings: Settings,
        metrics: ConsumerMetrics,
    ) -> InProcessEventBus:
        """Without Kafka, publishing hands events to this process's handlers."""

        async def deliver(event: ReceivedEvent) -> None:
            await dispatch(container, handlers, event)

        return InProcessEventBus(
            deliver,
            max_attempts=settings.kafka.consumer_max_attempts,
            retry_base_seconds=settings.kafka.consumer_retry_base_seconds,
            metrics=metrics,
        )

    @provide(provides=EventPublisher, when=KAFKA & ~EVENTS_ON_REDIS)
    async def kafka(self, settings: Settings) -> AsyncIterator[KafkaEventPublisher]:
        """The idempotent producer; flushed and stopped with the container."""
        assert settings.kafka.bootstrap_servers is not None  # noqa: S101 - the marker
        publisher = KafkaEventPublisher(
            settings.kafka.bootstrap_servers,
            topic_prefix=settings.kafka.topic_prefix,
            client_id=settings.app.name,
        )
        yield publisher
        await publisher.close()


class HealthProvider(Provider):
    """One probe per dependency an API process needs in order to serve; no other is probed.

    Readiness takes a process out of the load balancer, so a dependency only the worker
    uses (Kafka when the worker relays, SMTP when jobs run on the worker) must not: its
    outage would take every API process out at once, and the probes would load it.
    """

    scope = Scope.APP

    database = provide(SqlDatabaseProbe, provides=HealthProbe)
    redis = provide(RedisProbe, provides=HealthProbe, when=REDIS)

    @provide(provides=HealthProbe, when=KAFKA_PROBED)
    def kafka(self, settings: Settings) -> KafkaProbe:
        """Probe the Kafka cluster named by KAFKA_BOOTSTRAP_SERVERS."""
        assert settings.kafka.bootstrap_servers is not None  # noqa: S101 - the marker
        return KafkaProbe(
            settings.kafka.bootstrap_servers,
            timeout_seconds=settings.app.readiness_timeout_seconds,
        )

    @provide(provides=HealthProbe, when=SMTP_PROBED)
    def smtp(self, settings: Settings) -> SmtpProbe:
        """Probe the SMTP relay named by SMTP_HOST and SMTP_PORT."""
        assert settings.mail.smtp_host is not None  # noqa: S101 - the marker
        return SmtpProbe(
            settings.mail.smtp_host,
            settings.mail.smtp_port,
            timeout_seconds=settings.app.readiness_timeout_seconds,
        )

    probes = collect(HealthProbe, provides=Sequence[HealthProbe])
