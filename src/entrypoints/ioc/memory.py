"""Overrides that swap persistence for the in-memory adapters: the core with no server."""

from collections.abc import Sequence

from dishka import Provider, Scope, provide

from adapters.memory.articles import (
    InMemoryArticleReader,
    InMemoryArticleRepository,
    InMemoryCommentReader,
    InMemoryCommentRepository,
)
from adapters.memory.audit import InMemoryAuditLog, InMemoryAuditMaintenance
from adapters.memory.dashboard import InMemoryOutboxBacklog
from adapters.memory.database import InMemoryDatabase
from adapters.memory.file_storage import InMemoryFileStorage
from adapters.memory.files import InMemoryFileRepository
from adapters.memory.notifications.delivery_log import InMemoryDeliveryLog
from adapters.memory.notifications.followers import InMemoryFollowerReader
from adapters.memory.notifications.inbox import InMemoryNotificationRepository
from adapters.memory.notifications.phone_verifications import InMemoryPhoneVerificationRepository
from adapters.memory.notifications.preferences import InMemoryNotificationPreferencesRepository
from adapters.memory.notifications.push_subscriptions import InMemoryPushSubscriptionRepository
from adapters.memory.one_time_tokens import InMemoryOneTimeTokenRepository
from adapters.memory.outbox import InMemoryOutboxReader, InMemoryOutboxStore
from adapters.memory.processed_events import InMemoryProcessedEvents
from adapters.memory.profiles import InMemoryProfileReader
from adapters.memory.sessions import InMemorySessionRepository
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from adapters.memory.users import InMemoryUserRepository
from application.articles.ports import (
    ArticleReader,
    ArticleRepository,
    CommentReader,
    CommentRepository,
)
from application.audit.ports import AuditLog, AuditMaintenance
from application.common.ports.clock import Clock
from application.common.ports.ids import IdGenerator
from application.common.ports.unit_of_work import UnitOfWork
from application.dashboard.ports import OutboxBacklog
from application.events.ports import OutboxReader, OutboxStore, ProcessedEvents
from application.files.ports import FileRepository, FileStorage
from application.health.ports import HealthProbe
from application.notifications.ports import (
    DeliveryLog,
    FollowerReader,
    NotificationPreferencesRepository,
    NotificationRepository,
    PhoneVerificationRepository,
    PushSubscriptionRepository,
)
from application.profiles.ports import ProfileReader
from application.users.ports import OneTimeTokenRepository, SessionRepository, UserRepository
from entrypoints.config.settings import Settings


class InMemoryPersistenceProvider(Provider):
    """Pass to `make_container` after the defaults to run without PostgreSQL.

    The database is shared for the container's life, so state survives across requests,
    as it would in PostgreSQL. No dependency is probed, since none is used.
    """

    def __init__(self, database: InMemoryDatabase | None = None) -> None:
        super().__init__()
        self._database = database or InMemoryDatabase()

    @provide(scope=Scope.APP, override=True)
    def probes(self) -> Sequence[HealthProbe]:
        """Nothing outside the process to probe."""
        return []

    @provide(scope=Scope.APP, override=True)
    def file_storage(self) -> FileStorage:
        """Uploaded bytes in memory, gone with the container, as the records are."""
        return InMemoryFileStorage()

    @provide(scope=Scope.APP)
    def database(self) -> InMemoryDatabase:
        """The one in-memory database of this container."""
        return self._database

    @provide(scope=Scope.REQUEST, override=True)
    def unit_of_work(
        self, database: InMemoryDatabase, ids: IdGenerator, clock: Clock, settings: Settings
    ) -> UnitOfWork:
        """The request's unit of work, dating its audit entries by the app's clock."""
        return InMemoryUnitOfWork(database, ids, clock, audit=settings.audit.enabled)

    audit_log = provide(InMemoryAuditLog, provides=AuditLog, scope=Scope.REQUEST, override=True)
    audit_maintenance = provide(
        InMemoryAuditMaintenance, provides=AuditMaintenance, scope=Scope.REQUEST, override=True
    )
    outbox_reader = provide(
        InMemoryOutboxReader, provides=OutboxReader, scope=Scope.REQUEST, override=True
    )
    users = provide(
        InMemoryUserRepository, provides=UserRepository, scope=Scope.REQUEST, override=True
    )
    profiles = provide(
        InMemoryProfileReader, provides=ProfileReader, scope=Scope.REQUEST, override=True
    )
    sessions = provide(
        InMemorySessionRepository, provides=SessionRepository, scope=Scope.REQUEST, override=True
    )
    one_time_tokens = provide(
        InMemoryOneTimeTokenRepository,
        provides=OneTimeTokenRepository,
        scope=Scope.REQUEST,
        override=True,
    )
    articles = provide(
        InMemoryArticleRepository, provides=ArticleRepository, scope=Scope.REQUEST, override=True
    )
    comments = provide(
        InMemoryCommentRepository, provides=CommentRepository, scope=Scope.REQUEST, override=True
    )
    article_reader = provide(
        InMemoryArticleReader, provides=ArticleReader, scope=Scope.REQUEST, override=True
    )
    comment_reader = provide(
        InMemoryCommentReader, provides=CommentReader, scope=Scope.REQUEST, override=True
    )
    outbox_store = provide(
        InMemoryOutboxStore, provides=OutboxStore, scope=Scope.REQUEST, override=True
    )
    outbox_backlog = provide(
        InMemoryOutboxBacklog, provides=OutboxBacklog, scope=Scope.REQUEST, override=True
    )
    processed_events = provide(
        InMemoryProcessedEvents, provides=ProcessedEvents, scope=Scope.REQUEST, override=True
    )
    notifications = provide(
        InMemoryNotificationRepository,
        provides=NotificationRepository,
        scope=Scope.REQUEST,
        override=True,
    )
    preferences = provide(
        InMemoryNotificationPreferencesRepository,
        provides=NotificationPreferencesRepository,
        scope=Scope.REQUEST,
        override=True,
    )
    deliveries = provide(
        InMemoryDeliveryLog, provides=DeliveryLog, scope=Scope.REQUEST, override=True
    )
    push_subscriptions = provide(
        InMemoryPushSubscriptionRepository,
        provides=PushSubscriptionRepository,
        scope=Scope.REQUEST,
        override=True,
    )
    phones = provide(
        InMemoryPhoneVerificationRepository,
        provides=PhoneVerificationRepository,
        scope=Scope.REQUEST,
        override=True,
    )
    followers = provide(
        InMemoryFollowerReader, provides=FollowerReader, scope=Scope.REQUEST, override=True
    )
    files = provide(
        InMemoryFileRepository, provides=FileRepository, scope=Scope.REQUEST, override=True
    )
