"""The notification use cases, jobs and event handlers on in-memory adapters (no servers)."""

import asyncio
import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, get_type_hints
from uuid import UUID

import pytest
from dishka import Provider, Scope, make_async_container, provide

from adapters.inprocess.event_bus import received
from adapters.inprocess.push import InProcessPushSender
from adapters.inprocess.rate_limiter import InProcessRateLimiter
from adapters.inprocess.realtime import InProcessRealtimeBroadcaster
from adapters.inprocess.sms import InProcessSmsSender
from adapters.memory.database import InMemoryDatabase
from adapters.memory.host_resolver import InMemoryHostResolver
from adapters.memory.mailer import InMemoryMailer
from adapters.memory.notifications.delivery_log import InMemoryDeliveryLog
from adapters.memory.notifications.followers import InMemoryFollowerReader
from adapters.memory.notifications.inbox import NOTIFICATIONS, InMemoryNotificationRepository
from adapters.memory.notifications.phone_verifications import (
    PHONE_NUMBERS,
    InMemoryPhoneVerificationRepository,
)
from adapters.memory.notifications.preferences import InMemoryNotificationPreferencesRepository
from adapters.memory.notifications.push_subscriptions import InMemoryPushSubscriptionRepository
from adapters.memory.processed_events import InMemoryProcessedEvents
from adapters.memory.security import SequentialOpaqueTokens
from adapters.memory.system import ManualClock, SequentialIdGenerator
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from adapters.memory.users import InMemoryUserRepository
from adapters.templates.jinja import JinjaTemplateRenderer
from application.articles.pagination import PageRequest
from application.common.errors import (
    ConnectionLostError,
    DependencyUnavailableError,
    InvalidInputError,
    NotFoundError,
    OutcomeUnknownError,
    TooManyRequestsError,
)
from application.common.outbox import OutboxMessage
from application.common.ports.rate_limits import (
    RateLimit,
    RateLimitDecision,
    RateLimiter,
    RateLimiterUnavailableError,
)
from application.events.event_handler import EventHandler
from application.events.handle_event import HandleEvent, HandleEventCommand
from application.events.received_event import ReceivedEvent
from application.notifications import handlers
from application.notifications.count_unread_notifications import CountUnreadNotifications
from application.notifications.deliver_notification import (
    DELIVER_NOTIFICATION,
    PUSH_TTL_SECONDS,
    DeliverNotification,
    DeliverNotificationCommand,
)
from application.notifications.delivery_policy import DeliverySweepPolicy
from application.notifications.fan_out_to_followers import (
    FAN_OUT_TO_FOLLOWERS,
    FanOutPolicy,
    FanOutToFollowers,
    FanOutToFollowersCommand,
)
from application.notifications.get_notification_preferences import GetNotificationPreferences
from application.notifications.get_phone_number import GetPhoneNumber
from application.notifications.links import NotificationLinks
from application.notifications.list_notifications import (
    ListNotifications,
    ListNotificationsCommand,
)
from application.notifications.mark_all_notifications_read import MarkAllNotificationsRead
from application.notifications.mark_notifications_read import (
    MarkNotificationsRead,
    MarkNotificationsReadCommand,
)
from application.notifications.notification_factory import NotificationDraft, NotificationFactory
from application.notifications.notify_user import NotifyUser, NotifyUserCommand
from application.notifications.ports import (
    DeliveryStatus,
    EmailMessage,
    PushMessage,
    PushOutcome,
    PushRejectedError,
    SmsMessage,
)
from application.notifications.recipient_caps import MessageCaps, RecipientCaps
from application.notifications.remove_phone_number import RemovePhoneNumber
from application.notifications.repeat_policy import RepeatPolicy
from application.notifications.requeue_stale_deliveries import RequeueStaleDeliveries
from application.notifications.send_templated_email import SEND_TEMPLATED_EMAIL
from application.notifications.send_templated_sms import (
    SEND_TEMPLATED_SMS,
    SendTemplatedSms,
    SendTemplatedSmsCommand,
)
from application.notifications.set_phone_number import (
    PhoneCodePolicy,
    PhoneNumberState,
    SetPhoneNumber,
    SetPhoneNumberCommand,
)
from application.notifications.subscribe_to_push import (
    PushPolicy,
    SubscribeToPush,
    SubscribeToPushCommand,
)
from application.notifications.unsubscribe_from_push import (
    UnsubscribeFromPush,
    UnsubscribeFromPushCommand,
)
from application.notifications.update_notification_preferences import (
    UpdateNotificationPreferences,
    UpdateNotificationPreferencesCommand,
)
from application.notifications.verify_phone_number import (
    VerifyPhoneNumber,
    VerifyPhoneNumberCommand,
)
from application.notifications.views import NEW_NOTIFICATION, notification_document, user_room
from application.users.ports import UserRepository
from application.users.security_notices import SecurityNotices
from domain.articles.events import ArticleFavorited, ArticlePublished, CommentAdded
from domain.notifications.notification import Channel, Notification, NotificationKind, Subject
from domain.notifications.phone import PhoneCodeError, PhoneNumber, PhoneVerification
from domain.notifications.push import PushSubscription
from domain.notifications.push_endpoint import PushServiceAllowlist
from domain.shared.errors import DomainError
from domain.shared.events import DomainEvent
from domain.users.events import PasswordChanged, UserFollowed, UserSignedIn
from domain.users.user import User
from domain.users.values import Email, UserId, Username
from entrypoints.ioc.events import EventHandlerProvider
from entrypoints.worker.handler_table import Subscription
from entrypoints.worker.handlers import EVENT_HANDLERS

APP_NAME = "Portico"
PUBLIC_URL = "https://portico.test"
PHONE = "+14155550100"
CLIENT_IP = "203.0.113.7"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


P256DH = b64url(b"\x04" + bytes(range(64)))
AUTH = b64url(bytes(range(16)))


# --- fakes -------------------------------------------------------------------------------


SWEEP = DeliverySweepPolicy(stale_after=timedelta(minutes=2))


class RecordingQueue:
    """The `TaskQueue` port as a list of jobs; `check` runs when a job is enqueued.

    A real queue may start the job as soon as `enqueue` returns, so what `check` sees is
    what the job would see.
    """

    def __init__(self) -> None:
        self.jobs: list[tuple[str, dict[str, str]]] = []
        self.check: Callable[[str, Mapping[str, str]], None] | None = None

    async def enqueue(self, task: str, payload: Mapping[str, str]) -> None:
        if self.check is not None:
            self.check(task, payload)
        self.jobs.append((task, dict(payload)))

    def tasks(self) -> list[str]:
        return [task for task, _ in self.jobs]

    def of(self, task: str) -> list[dict[str, str]]:
        return [payload for name, payload in self.jobs if name == task]

    def take(self, task: str) -> list[dict[str, str]]:
        """Remove and return the payloads of `task`, oldest first."""
        taken = self.of(task)
        self.jobs = [(name, payload) for name, payload in self.jobs if name != task]
        return taken


class FlakyMailer(InMemoryMailer):
    """Keeps messages, or refuses them all while `down`."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def send(self, message: EmailMessage) -> None:
        if self.down:
            raise ConnectionError("the SMTP server is down")
        await super().send(message)


@dataclass
class DatabaseOutage:
    """The database going away: its next `failing_commits` commits fail.

    Each failed commit takes `each_takes` of the clock. With `commits_land`, a commit goes
    through and only its answer is lost (`OutcomeUnknownError`), as when the connection dies
    after COMMIT was sent; otherwise nothing is saved (`ConnectionLostError`).
    """

    clock: ManualClock
    each_takes: timedelta = timedelta(seconds=1)
    commits_land: bool = False
    failing_commits: int = 0
    failed_commits: int = 0
    began: asyncio.Event = field(default_factory=asyncio.Event)


class UnitOfWorkThroughOutages(InMemoryUnitOfWork):
    """The in-memory unit of work, whose commits fail while `outage` lasts."""

    def __init__(
        self, database: InMemoryDatabase, ids: SequentialIdGenerator, outage: DatabaseOutage
    ) -> None:
        super().__init__(database, ids)
        self._outage = outage

    async def commit(self) -> Sequence[OutboxMessage]:
        outage = self._outage
        if not outage.failing_commits:
            return await super().commit()
        outage.failing_commits -= 1
        outage.failed_commits += 1
        outage.clock.advance(outage.each_takes)
        if outage.commits_land:
            await super().commit()
            raise OutcomeUnknownError("lost after the commit was sent", field="database")
        raise ConnectionLostError("the connection was lost", field="database")


class MailerThenOutage(FlakyMailer):
    """Sends, then the database goes away for `commits` commits: the outcome cannot be saved."""

    def __init__(self, outage: DatabaseOutage, *, commits: int) -> None:
        super().__init__()
        self._outage = outage
        self._commits = commits

    async def send(self, message: EmailMessage) -> None:
        await super().send(message)
        self._outage.failing_commits = self._commits
        self._outage.began.set()


class PickyPushSender(InProcessPushSender):
    """Refuses for good the endpoints in `refusing`; otherwise the memory push sender."""

    def __init__(self) -> None:
        super().__init__()
        self.refusing: set[str] = set()
        self.attempted: list[str] = []

    async def send(self, subscription: PushSubscription, message: PushMessage) -> PushOutcome:
        self.attempted.append(subscription.endpoint)
        if subscription.endpoint in self.refusing:
            raise PushRejectedError("400: the payload is too large")
        return await super().send(subscription, message)


class UnavailableLimiter:
    """A `RateLimiter` whose server is down."""

    async def acquire(self, key: str, rate: RateLimit) -> RateLimitDecision:
        raise RateLimiterUnavailableError("connection refused")

    async def refund(self, key: str, rate: RateLimit) -> None:
        raise RateLimiterUnavailableError("connection refused")


# --- the world ---------------------------------------------------------------------------


@dataclass
class NotificationWorld:
    """The notification use cases on one in-memory database, clock and id source."""

    clock: ManualClock = field(default_factory=ManualClock)
    ids: SequentialIdGenerator = field(default_factory=SequentialIdGenerator)
    database: InMemoryDatabase = field(default_factory=InMemoryDatabase)
    batch_size: int = 100

    def __post_init__(self) -> None:
        self.users = InMemoryUserRepository(self.database)
        self.notifications = InMemoryNotificationRepository(self.database)
        self.preferences = InMemoryNotificationPreferencesRepository(self.database)
        self.deliveries = InMemoryDeliveryLog(self.database)
        self.push_subscriptions = InMemoryPushSubscriptionRepository(self.database)
        self.phones = InMemoryPhoneVerificationRepository(self.database)
        self.followers = InMemoryFollowerReader(self.database)
        self.processed = InMemoryProcessedEvents(self.database)
        self.queue = RecordingQueue()
        self.broadcaster = InProcessRealtimeBroadcaster()
        self.renderer = JinjaTemplateRenderer()
        self.mailer = FlakyMailer()
        self.sms = InProcessSmsSender()
        self.push = PickyPushSender()
        self.links = NotificationLinks(public_url=PUBLIC_URL, app_name=APP_NAME)
        self.secrets = SequentialOpaqueTokens()
        self.limiter: RateLimiter = InProcessRateLimiter(self.clock)
        self.phone_policy = PhoneCodePolicy(
            ttl=timedelta(minutes=10),
            sends=RateLimit(limit=3, window_seconds=3600),
            per_client=RateLimit(limit=100, window_seconds=3600),
            budget=RateLimit(limit=1000, window_seconds=3600),
            calling_codes=frozenset(),
            app_name=APP_NAME,
        )
        self.caps = MessageCaps(
            email=RateLimit(limit=100, window_seconds=3600),
            security_email=RateLimit(limit=200, window_seconds=3600),
            sms=RateLimit(limit=100, window_seconds=3600),
            security_sms=RateLimit(limit=200, window_seconds=3600),
        )
        self.repeats = RepeatPolicy()
        self.push_policy = PushPolicy(
            max_per_user=2,
            allowed_hosts=PushServiceAllowlist.parse("push.example.test"),
            allow_local_endpoints=False,
        )
        self.resolver = InMemoryHostResolver({"push.example.test": ["93.184.215.14"]})

    # wiring

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.database, self.ids)

    def factory(self, uow: InMemoryUnitOfWork) -> NotificationFactory:
        return NotificationFactory(
            uow=uow,
            notifications=self.notifications,
            preferences=self.preferences,
            deliveries=self.deliveries,
            queue=self.queue,
            clock=self.clock,
            ids=self.ids,
            repeats=self.repeats,
        )

    def notify_user(self, uow: InMemoryUnitOfWork | None = None) -> NotifyUser:
        uow = uow or self.uow()
        return NotifyUser(uow, self.factory(uow))

    def fan_out(self, uow: InMemoryUnitOfWork | None = None) -> FanOutToFollowers:
        uow = uow or self.uow()
        return FanOutToFollowers(
            uow=uow,
            followers=self.followers,
            factory=self.factory(uow),
            queue=self.queue,
            policy=FanOutPolicy(batch_size=self.batch_size),
        )

    def deliver(
        self, *, uow: InMemoryUnitOfWork | None = None, sweep: DeliverySweepPolicy = SWEEP
    ) -> DeliverNotification:
        return DeliverNotification(
            uow=uow or self.uow(),
            notifications=self.notifications,
            deliveries=self.deliveries,
            users=self.users,
            phones=self.phones,
            push_subscriptions=self.push_subscriptions,
            broadcaster=self.broadcaster,
            renderer=self.renderer,
            mailer=self.mailer,
            sms=self.sms,
            push=self.push,
            links=self.links,
            sweep=sweep,
            clock=self.clock,
            caps=RecipientCaps(self.limiter, self.caps),
        )

    def set_phone_number(self) -> SetPhoneNumber:
        return SetPhoneNumber(
            uow=self.uow(),
            phones=self.phones,
            secrets=self.secrets,
            limiter=self.limiter,
            queue=self.queue,
            clock=self.clock,
            policy=self.phone_policy,
        )

    def verify_phone_number(self) -> VerifyPhoneNumber:
        return VerifyPhoneNumber(
            uow=self.uow(),
            phones=self.phones,
            secrets=self.secrets,
            clock=self.clock,
            users=self.users,
            notices=SecurityNotices(self.queue),
        )

    def subscribe_to_push(self) -> SubscribeToPush:
        return SubscribeToPush(
            self.uow(), self.push_subscriptions, self.clock, self.push_policy, self.resolver
        )

    def update_preferences(self) -> UpdateNotificationPreferences:
        return UpdateNotificationPreferences(self.uow(), self.preferences)

    def mark_read(self) -> MarkNotificationsRead:
        return MarkNotificationsRead(self.uow(), self.notifications, self.clock)

    def mark_all_read(self) -> MarkAllNotificationsRead:
        return MarkAllNotificationsRead(self.uow(), self.notifications, self.clock)

    # arranging

    async def user(self, name: str, *, verified: bool = False) -> UserId:
        """A new account; `verified`: its address is proven (only those get notification mail)."""
        user = User.register(
            id=UserId(self.ids.new_id()),
            username=Username(name),
            email=Email.parse(f"{name}@test.com"),
            password_hash="not-a-real-hash",
            now=self.clock.now(),
        )
        if verified:
            user.verify_email(now=self.clock.now())
        await self.users.add(user)
        return user.id

    async def follow(self, follower: UserId, followee: UserId) -> None:
        await self.users.add_follow(follower, followee, at=self.clock.now())

    async def verified_phone(self, user: UserId, number: str = PHONE) -> None:
        await self.phones.save(
            PhoneVerification(
                user_id=user,
                number=PhoneNumber.parse(number),
                code_hash=None,
                code_expires_at=None,
                attempts_left=0,
                verified_at=self.clock.now(),
            )
        )

    async def subscription(self, user: UserId, endpoint: str) -> PushSubscription:
        subscription = PushSubscription.create(
            user, endpoint=endpoint, p256dh=P256DH, auth=AUTH, created_at=self.clock.now()
        )
        await self.push_subscriptions.add(subscription)
        self.clock.advance(timedelta(seconds=1))
        return subscription

    async def notify(self, recipient: UserId, draft: NotificationDraft) -> list[Notification]:
        stored = await self.notify_user()(NotifyUserCommand(recipient=recipient, draft=draft))
        return list(stored)

    async def notified(
        self,
        recipient: UserId,
        actor: UserId,
        kind: NotificationKind = NotificationKind.NEW_FOLLOWER,
    ) -> Notification:
        """Notify `recipient` of `kind`, discard the delivery jobs, return the notification."""
        stored = await self.notify(
            recipient, draft(actor, kind=kind, source=str(self.ids.new_id()))
        )
        assert len(stored) == 1, stored
        self.queue.take(DELIVER_NOTIFICATION)
        return stored[0]

    # acting and reading

    async def run_deliveries(self) -> list[tuple[Channel, DeliveryStatus | None]]:
        outcomes = []
        for payload in self.queue.take(DELIVER_NOTIFICATION):
            command = DeliverNotificationCommand.from_payload(payload)
            outcomes.append((command.channel, await self.deliver()(command)))
        return outcomes

    async def run_fan_out_jobs(self) -> list[int]:
        """Run continuation batches until none is left; how many each stored."""
        stored = []
        while jobs := self.queue.take(FAN_OUT_TO_FOLLOWERS):
            for payload in jobs:
                command = FanOutToFollowersCommand.from_payload(payload)
                stored.append(await self.fan_out()(command))
        return stored

    async def handle(self, event: ReceivedEvent) -> list[bool]:
        """Run every notifications consumer of the event as the bus does, through HandleEvent.

        Each handler comes from the production `EventHandlerProvider`, on this world's use
        cases, in a request scope of its own beside its `HandleEvent`, as `dispatch` does.
        """
        container = make_async_container(EventHandlerProvider(), WorldProvider(self))
        results = []
        try:
            for subscription in notification_consumers(event.event_type):
                async with container() as request:
                    handle = await request.get(HandleEvent)
                    handler = await request.get(subscription.handler)
                    command = HandleEventCommand(
                        event=event, consumer=subscription.consumer, handler=handler
                    )
                    results.append(await handle(command))
        finally:
            await container.close()
        return results

    def stored(self) -> list[Notification]:
        rows: dict[UUID, Notification] = self.database.table(NOTIFICATIONS)
        return sorted(rows.values(), key=lambda n: (n.recipient_id.value, n.id))

    def stored_for(self, recipient: UserId) -> list[Notification]:
        return [n for n in self.stored() if n.recipient_id == recipient]

    def delivery_pairs(self) -> list[tuple[UUID, Channel]]:
        pairs = []
        for payload in self.queue.of(DELIVER_NOTIFICATION):
            command = DeliverNotificationCommand.from_payload(payload)
            pairs.append((command.notification_id, command.channel))
        return pairs


class WorldProvider(Provider):
    """The world's use cases and stores, one unit of work per request, for the handlers."""

    scope = Scope.REQUEST

    def __init__(self, world: NotificationWorld) -> None:
        super().__init__()
        self._world = world

    @provide
    def uow(self) -> InMemoryUnitOfWork:
        return self._world.uow()

    @provide
    def handle_event(self, uow: InMemoryUnitOfWork) -> HandleEvent:
        world = self._world
        return HandleEvent(uow=uow, processed=world.processed, clock=world.clock)

    @provide
    def notify_user(self, uow: InMemoryUnitOfWork) -> NotifyUser:
        return self._world.notify_user(uow)

    @provide
    def fan_out(self, uow: InMemoryUnitOfWork) -> FanOutToFollowers:
        return self._world.fan_out(uow)

    @provide
    def users(self) -> UserRepository:
        return self._world.users


def draft(
    actor: UserId | None,
    *,
    kind: NotificationKind = NotificationKind.NEW_FOLLOWER,
    source: str = "event-1",
    data: Mapping[str, str] | None = None,
) -> NotificationDraft:
    defaults: dict[NotificationKind, dict[str, str]] = {
        NotificationKind.NEW_FOLLOWER: {"actor_username": "ada"},
        NotificationKind.NEW_ARTICLE: {
            "actor_username": "ada",
            "article_title": "Dragons",
            "article_slug": "dragons",
        },
        NotificationKind.NEW_COMMENT: {
            "actor_username": "ada",
            "article_title": "Dragons",
            "article_slug": "dragons",
        },
        NotificationKind.ARTICLE_FAVORITED: {
            "actor_username": "ada",
            "article_title": "Dragons",
            "article_slug": "dragons",
        },
        NotificationKind.NEW_LOGIN: {
            "device": "Firefox on Linux",
            "ip_address": "203.0.113.9",
            "signed_in_at": "2026-01-01T00:00:00+00:00",
        },
        NotificationKind.PASSWORD_CHANGED: {"changed_at": "2026-01-01T00:00:00+00:00"},
    }
    subject = (
        Subject(type="user", id=str(actor))
        if kind is NotificationKind.NEW_FOLLOWER
        else Subject(type="article", id="article-1")
    )
    return NotificationDraft(
        kind=kind,
        actor_id=actor,
        subject=subject,
        source=source,
        data=defaults[kind] if data is None else data,
    )


def notification_consumers(event_type: str) -> list[Subscription]:
    return [
        subscription
        for subscription in EVENT_HANDLERS.for_event(event_type)
        if subscription.consumer.startswith("notifications.")
    ]


def event_of(domain_event: DomainEvent, event_id: UUID) -> ReceivedEvent:
    """The event as a consumer receives it from the bus."""
    return received(OutboxMessage(event_id=event_id, event=domain_event, request_id="req-1"))


@pytest.fixture
def world() -> NotificationWorld:
    return NotificationWorld()


# --- NotificationFactory and NotifyUser --------------------------------------------------


async def test_the_recipients_preferences_pick_the_channels(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    [first] = await world.notify(bob, draft(ada, source="e1"))
    assert first.channels == {Channel.IN_APP, Channel.EMAIL, Channel.PUSH}
    assert (first.recipient_id, first.actor_id, first.source) == (bob, ada, "e1")
    assert first.created_at == world.clock.now()
    assert dict(first.data) == {"actor_username": "ada"}
    await world.update_preferences()(
        UpdateNotificationPreferencesCommand(
            user_id=bob, changes={"new_follower": {"email": False, "sms": True}}
        )
    )
    [second] = await world.notify(bob, draft(ada, source="e2"))
    assert second.channels == {Channel.IN_APP, Channel.PUSH, Channel.SMS}
    assert [n.id for n in world.stored_for(bob)] == sorted([first.id, second.id])


async def test_no_wanted_channel_stores_nothing_and_sends_nothing(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    await world.update_preferences()(
        UpdateNotificationPreferencesCommand(
            user_id=bob, changes={"new_follower": {"in_app": False, "email": False, "push": False}}
        )
    )
    assert await world.notify(bob, draft(ada)) == []
    assert world.stored() == []
    assert world.queue.jobs == []


async def test_nobody_is_told_of_their_own_doing(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    assert await world.notify(ada, draft(ada)) == []
    assert world.stored() == []
    assert world.queue.jobs == []
    uow = world.uow()
    async with uow:
        stored = await world.factory(uow).create(draft(ada), [ada, bob, bob, ada])
        await uow.commit()
    assert [n.recipient_id for n in stored] == [bob]
    assert [n.recipient_id for n in world.stored()] == [bob]


async def test_the_same_source_twice_notifies_once_and_schedules_once(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    [notification] = await world.notify(bob, draft(ada, source="event-42"))
    assert await world.notify(bob, draft(ada, source="event-42")) == []
    assert [n.id for n in world.stored()] == [notification.id]
    assert sorted(world.delivery_pairs(), key=str) == sorted(
        [(notification.id, channel) for channel in notification.channels], key=str
    )
    assert len(await world.notify(bob, draft(ada, source="event-43"))) == 1


async def test_one_delivery_job_per_channel_with_a_round_tripping_payload(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    every_channel = {channel.value: True for channel in Channel}
    await world.update_preferences()(
        UpdateNotificationPreferencesCommand(user_id=bob, changes={"new_comment": every_channel})
    )
    [notification] = await world.notify(bob, draft(ada, kind=NotificationKind.NEW_COMMENT))
    assert world.queue.tasks() == [DELIVER_NOTIFICATION] * 4
    payloads = world.queue.of(DELIVER_NOTIFICATION)
    assert {p["channel"] for p in payloads} == {"in_app", "email", "sms", "push"}
    for payload in payloads:
        command = DeliverNotificationCommand.from_payload(payload)
        assert command.notification_id == notification.id
        assert command.as_payload() == payload


async def test_deliveries_are_enqueued_once_the_notification_is_committed(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    seen: list[UUID] = []

    def visible(task: str, payload: Mapping[str, str]) -> None:
        assert task == DELIVER_NOTIFICATION
        notification_id = UUID(payload["notification_id"])
        rows: dict[UUID, Notification] = world.database.table(NOTIFICATIONS)
        assert notification_id in rows, "a delivery job was enqueued before its notification"
        seen.append(notification_id)

    world.queue.check = visible
    [notification] = await world.notify(bob, draft(ada))
    assert seen == [notification.id] * 3


async def test_nothing_is_enqueued_until_the_outer_transaction_commits(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    uow = world.uow()
    notify = world.notify_user(uow)
    async with uow:  # as HandleEvent does: the handler joins the transaction that records it
        [notification] = await notify(NotifyUserCommand(recipient=bob, draft=draft(ada)))
        assert world.queue.jobs == [], "enqueued before the outer transaction committed"
        await uow.commit()
        assert {pair[0] for pair in world.delivery_pairs()} == {notification.id}
    assert len(world.queue.jobs) == 3


async def test_a_rolled_back_notification_is_never_delivered(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    uow = world.uow()
    notify = world.notify_user(uow)

    async def notify_then_fail() -> None:
        async with uow:
            await notify(NotifyUserCommand(recipient=bob, draft=draft(ada)))
            raise RuntimeError("the handler failed after notifying")

    with pytest.raises(RuntimeError, match="after notifying"):
        await notify_then_fail()
    assert world.stored() == []
    assert world.queue.jobs == []
    async with uow:  # left without committing
        await notify(NotifyUserCommand(recipient=bob, draft=draft(ada)))
    assert world.stored() == []
    assert world.queue.jobs == []


# --- FanOutToFollowers -------------------------------------------------------------------


async def followed_author(world: NotificationWorld, followers: int) -> tuple[UserId, list[UserId]]:
    author = await world.user("ada")
    fans = [await world.user(f"fan{i}") for i in range(followers)]
    for fan in fans:
        await world.follow(fan, author)
    other = await world.user("zed")  # follows someone else only
    await world.follow(other, fans[0])
    return author, fans


async def test_fan_out_goes_in_batches_chained_by_jobs(world: NotificationWorld) -> None:
    world.batch_size = 2
    author, fans = await followed_author(world, 5)
    first = FanOutToFollowersCommand(
        followee=author, draft=draft(author, kind=NotificationKind.NEW_ARTICLE, source="pub-1")
    )
    assert await world.fan_out()(first) == 2
    [continuation] = world.queue.of(FAN_OUT_TO_FOLLOWERS)
    following = FanOutToFollowersCommand.from_payload(continuation)
    assert following == FanOutToFollowersCommand(
        followee=author, draft=first.draft, after=sorted(fans, key=lambda u: u.value)[1]
    )
    assert following.as_payload() == continuation
    assert await world.run_fan_out_jobs() == [2, 1]  # the partial batch ends the chain
    assert world.queue.of(FAN_OUT_TO_FOLLOWERS) == []
    notified = [n.recipient_id for n in world.stored()]
    assert sorted(notified, key=lambda u: u.value) == sorted(fans, key=lambda u: u.value)
    assert {n.kind for n in world.stored()} == {NotificationKind.NEW_ARTICLE}
    pairs = world.delivery_pairs()
    assert len(pairs) == len(set(pairs)) == 5 * 3


async def test_a_full_last_batch_is_followed_by_an_empty_one(world: NotificationWorld) -> None:
    world.batch_size = 2
    author, fans = await followed_author(world, 4)
    command = FanOutToFollowersCommand(
        followee=author, draft=draft(author, kind=NotificationKind.NEW_ARTICLE)
    )
    assert await world.fan_out()(command) == 2
    assert await world.run_fan_out_jobs() == [2, 0]
    assert len(world.stored()) == len(fans)


async def test_a_batch_run_twice_notifies_each_follower_once(world: NotificationWorld) -> None:
    world.batch_size = 2
    author, fans = await followed_author(world, 5)
    command = FanOutToFollowersCommand(
        followee=author, draft=draft(author, kind=NotificationKind.NEW_ARTICLE, source="pub-1")
    )
    assert await world.fan_out()(command) == 2
    assert await world.fan_out()(command) == 0  # a redelivered job
    [again, twice] = world.queue.of(FAN_OUT_TO_FOLLOWERS)
    assert again == twice
    assert await world.run_fan_out_jobs() == [2, 0, 1, 0]  # each batch twice
    recipients = [n.recipient_id for n in world.stored()]
    assert len(recipients) == len(set(recipients)) == len(fans)
    pairs = world.delivery_pairs()
    assert len(pairs) == len(set(pairs)) == 5 * 3


def test_the_fan_out_payload_round_trips() -> None:
    command = FanOutToFollowersCommand(
        followee=UserId(UUID(int=1)),
        after=None,
        draft=NotificationDraft(
            kind=NotificationKind.NEW_LOGIN,
            actor_id=None,
            subject=Subject(type="session", id="s-1"),
            source="evt",
            data={"device": 'Émile\'s "phone"', "ip_address": "::1"},
        ),
    )
    payload = command.as_payload()
    assert all(isinstance(value, str) for value in payload.values())
    assert FanOutToFollowersCommand.from_payload(payload) == command
    later = FanOutToFollowersCommand(
        followee=command.followee, draft=command.draft, after=UserId(UUID(int=9))
    )
    assert FanOutToFollowersCommand.from_payload(later.as_payload()) == later


# --- DeliverNotification -----------------------------------------------------------------


async def test_in_app_publishes_the_document_to_the_recipients_room(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    await world.broadcaster.join(user_room(bob))
    notification = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.IN_APP)
    assert await world.deliver()(command) is DeliveryStatus.SENT
    stream = world.broadcaster.messages()
    message = await asyncio.wait_for(anext(stream), timeout=1)
    await world.broadcaster.close()
    assert [rest async for rest in stream] == []
    assert message.room == f"user:{bob}"
    stored = await world.notifications.get(notification.id)
    assert stored is not None
    assert json.loads(message.payload) == {
        "type": NEW_NOTIFICATION,
        "data": notification_document(stored),
    }
    assert json.loads(message.payload)["data"]["actor"] == {"username": "ada"}
    record = await world.deliveries.get(notification.id, Channel.IN_APP)
    assert record is not None
    assert (record.status, record.attempts, record.detail) == (DeliveryStatus.SENT, 1, None)


async def test_email_renders_the_kinds_template_to_the_recipients_address(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob", verified=True)
    notification = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.EMAIL)
    assert await world.deliver()(command) is DeliveryStatus.SENT
    expected = world.renderer.render_email(
        "notification_new_follower",
        {
            "actor_username": "ada",
            "app_name": APP_NAME,
            "recipient_username": "bob",
            "recipient_email": "bob@test.com",
            "url": f"{PUBLIC_URL}/profile/ada",
            "preferences_url": f"{PUBLIC_URL}/settings",
        },
    )
    assert world.mailer.sent == [
        EmailMessage(
            to="bob@test.com", subject=expected.subject, text=expected.text, html=expected.html
        )
    ]
    message = world.mailer.sent[0]
    assert message.subject == "ada started following you on Portico"
    assert "Hello bob" in message.text
    assert f"{PUBLIC_URL}/profile/ada" in message.text


async def test_sms_is_skipped_without_a_verified_phone(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    notification = await world.notified(bob, ada, NotificationKind.PASSWORD_CHANGED)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.SMS)
    assert await world.deliver()(command) is DeliveryStatus.SKIPPED
    record = await world.deliveries.get(notification.id, Channel.SMS)
    assert record is not None
    assert (record.status, record.detail) == (DeliveryStatus.SKIPPED, "no verified phone number")
    other = await world.notified(bob, ada, NotificationKind.PASSWORD_CHANGED)
    await world.set_phone_number()(
        SetPhoneNumberCommand(user_id=bob, phone=PHONE, client_ip=CLIENT_IP)
    )  # unverified
    command = DeliverNotificationCommand(notification_id=other.id, channel=Channel.SMS)
    assert await world.deliver()(command) is DeliveryStatus.SKIPPED
    assert list(world.sms.sent) == []


async def test_sms_goes_to_the_verified_phone(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    await world.verified_phone(bob, "+44 20 7946 0958")
    notification = await world.notified(bob, ada, NotificationKind.PASSWORD_CHANGED)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.SMS)
    assert await world.deliver()(command) is DeliveryStatus.SENT
    assert list(world.sms.sent) == [
        SmsMessage(
            to="+442079460958",
            body=(
                "Portico: your password was changed. Not you? Reset your password. "
                "https://portico.test/settings"
            ),
        )
    ]


async def test_push_without_a_subscription_is_skipped(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    notification = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.PUSH)
    assert await world.deliver()(command) is DeliveryStatus.SKIPPED
    record = await world.deliveries.get(notification.id, Channel.PUSH)
    assert record is not None
    assert record.detail == "no push subscription"
    assert not world.push.sent


async def test_push_goes_to_every_subscription_of_the_recipient(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    laptop = await world.subscription(bob, "https://push.example.test/laptop")
    phone = await world.subscription(bob, "https://push.example.test/phone")
    await world.subscription(ada, "https://push.example.test/ada")
    notification = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.PUSH)
    assert await world.deliver()(command) is DeliveryStatus.SENT
    assert [subscription for subscription, _ in world.push.sent] == [laptop, phone]
    message = world.push.sent[0][1]
    assert (message.ttl_seconds, message.topic) == (PUSH_TTL_SECONDS, "new-follower")
    assert json.loads(message.payload) == {
        "id": str(notification.id),
        "kind": "new_follower",
        "title": "New follower",
        "body": "ada started following you.",
        "url": f"{PUBLIC_URL}/profile/ada",
    }


async def test_a_gone_subscription_is_forgotten(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    gone = await world.subscription(bob, "https://push.example.test/gone")
    alive = await world.subscription(bob, "https://push.example.test/alive")
    world.push.mark_gone(gone.endpoint)
    notification = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.PUSH)
    assert await world.deliver()(command) is DeliveryStatus.SENT
    assert await world.push_subscriptions.for_user(bob) == [alive]
    world.push.mark_gone(alive.endpoint)
    later = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=later.id, channel=Channel.PUSH)
    assert await world.deliver()(command) is DeliveryStatus.SKIPPED
    assert await world.push_subscriptions.for_user(bob) == []


async def test_a_refused_push_does_not_stop_the_others(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    refusing = await world.subscription(bob, "https://push.example.test/refusing")
    taking = await world.subscription(bob, "https://push.example.test/taking")
    world.push.refusing.add(refusing.endpoint)
    notification = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.PUSH)
    assert await world.deliver()(command) is DeliveryStatus.SENT
    assert world.push.attempted == [refusing.endpoint, taking.endpoint]
    assert [subscription for subscription, _ in world.push.sent] == [taking]
    assert len(await world.push_subscriptions.for_user(bob)) == 2  # refused is not gone
    world.push.refusing.add(taking.endpoint)
    later = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=later.id, channel=Channel.PUSH)
    assert await world.deliver()(command) is DeliveryStatus.SKIPPED


async def test_a_failed_email_is_recorded_raised_and_retried(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob", verified=True)
    notification = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.EMAIL)
    world.mailer.down = True
    with pytest.raises(ConnectionError, match="SMTP server is down"):
        await world.deliver()(command)
    record = await world.deliveries.get(notification.id, Channel.EMAIL)
    assert record is not None
    assert (record.status, record.attempts) == (DeliveryStatus.FAILED, 1)
    assert record.detail == repr(ConnectionError("the SMTP server is down"))
    assert await world.notifications.get(notification.id) is not None
    assert [n.id for n in world.stored()] == [notification.id]
    world.mailer.down = False
    world.clock.advance(timedelta(minutes=1))
    assert await world.deliver()(command) is DeliveryStatus.SENT
    record = await world.deliveries.get(notification.id, Channel.EMAIL)
    assert record is not None
    assert (record.status, record.attempts, record.detail) == (DeliveryStatus.SENT, 2, None)
    assert record.updated_at == world.clock.now()
    assert [m.to for m in world.mailer.sent] == ["bob@test.com"]


def outage_after_the_email(
    world: NotificationWorld, *, commits: int, commits_land: bool = False
) -> tuple[DatabaseOutage, InMemoryUnitOfWork]:
    """The database goes away for `commits` commits once the email is sent; the run's uow."""
    outage = DatabaseOutage(clock=world.clock, commits_land=commits_land)
    world.mailer = MailerThenOutage(outage, commits=commits)
    return outage, UnitOfWorkThroughOutages(world.database, world.ids, outage)


async def test_an_email_whose_outcome_the_database_lost_once_is_recorded_not_sent_again(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob", verified=True)
    notification = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.EMAIL)
    outage, uow = outage_after_the_email(world, commits=1)
    assert await world.deliver(uow=uow)(command) is DeliveryStatus.SENT
    assert outage.failed_commits == 1
    record = await world.deliveries.get(notification.id, Channel.EMAIL)
    assert record is not None
    assert (record.status, record.attempts) == (DeliveryStatus.SENT, 1)
    # Neither a redelivered job nor the sweep, once the claim would be stale, sends it again.
    world.clock.advance(SWEEP.stale_after * 2)
    assert await world.deliver()(command) is None
    queue = RecordingQueue()
    await RequeueStaleDeliveries(world.uow(), world.deliveries, queue, world.clock, SWEEP)()
    assert all(payload["channel"] != Channel.EMAIL.value for _, payload in queue.jobs)
    assert [m.to for m in world.mailer.sent] == ["bob@test.com"]


async def test_an_outcome_saved_by_a_commit_whose_answer_was_lost_counts_once(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob", verified=True)
    notification = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.EMAIL)
    outage, uow = outage_after_the_email(world, commits=1, commits_land=True)
    assert await world.deliver(uow=uow)(command) is DeliveryStatus.SENT
    assert outage.failed_commits == 1
    record = await world.deliveries.get(notification.id, Channel.EMAIL)
    assert record is not None
    assert (record.status, record.attempts) == (DeliveryStatus.SENT, 1)
    assert len(world.mailer.sent) == 1


async def test_while_a_run_retries_its_outcome_no_one_else_may_send_the_delivery(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob", verified=True)
    notification = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.EMAIL)
    outage, uow = outage_after_the_email(world, commits=1_000)
    outage.each_takes = timedelta(seconds=7)
    instant = DeliverySweepPolicy(
        stale_after=SWEEP.stale_after,
        first_retry_wait=timedelta(0),
        longest_retry_wait=timedelta(0),
    )
    claimed_at = world.clock.now()
    queue = RecordingQueue()
    sweep = RequeueStaleDeliveries(world.uow(), world.deliveries, queue, world.clock, SWEEP)
    run = asyncio.ensure_future(world.deliver(uow=uow, sweep=instant)(command))
    await outage.began.wait()
    others: list[DeliveryStatus | None] = []
    while not run.done():
        # Only the run's own connection is down: the sweep and other runs reach the database.
        await sweep()
        others.append(await world.deliver()(command))
        await asyncio.sleep(0)
    with pytest.raises(ConnectionLostError):
        await run
    assert outage.failed_commits > 5
    assert world.clock.now() < claimed_at + SWEEP.stale_after
    assert others
    assert set(others) == {None}
    assert all(payload["channel"] != Channel.EMAIL.value for _, payload in queue.jobs)
    assert len(world.mailer.sent) == 1
    # Its run gave up with its claim still fresh; only once stale is the delivery run again.
    world.clock.advance(SWEEP.stale_after)
    await sweep()
    assert any(payload["channel"] == Channel.EMAIL.value for _, payload in queue.jobs)


async def test_a_sent_or_skipped_delivery_is_not_repeated(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob", verified=True)
    notification = await world.notified(bob, ada)
    email = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.EMAIL)
    push = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.PUSH)
    assert await world.deliver()(email) is DeliveryStatus.SENT
    assert await world.deliver()(push) is DeliveryStatus.SKIPPED
    await world.subscription(bob, "https://push.example.test/new")
    assert await world.deliver()(email) is None
    assert await world.deliver()(push) is None
    assert len(world.mailer.sent) == 1
    assert not world.push.sent
    records = await world.deliveries.for_notification(notification.id)
    assert [(r.channel, r.status, r.attempts) for r in records] == [
        (Channel.EMAIL, DeliveryStatus.SENT, 1),
        (Channel.IN_APP, DeliveryStatus.PENDING, 0),
        (Channel.PUSH, DeliveryStatus.SKIPPED, 1),
    ]


async def test_deliveries_are_pending_from_the_notifications_commit_and_swept_when_lost(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob", verified=True)
    notification = await world.notified(bob, ada)
    records = await world.deliveries.for_notification(notification.id)
    assert {(r.channel, r.status) for r in records} == {
        (channel, DeliveryStatus.PENDING) for channel in notification.channels
    }
    queue = RecordingQueue()
    sweep = RequeueStaleDeliveries(
        world.uow(),
        world.deliveries,
        queue,
        world.clock,
        SWEEP,
    )
    assert await sweep() == 0
    email = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.EMAIL)
    assert await world.deliver()(email) is DeliveryStatus.SENT
    world.clock.advance(timedelta(minutes=3))
    assert await sweep() == len(notification.channels) - 1
    requeued = {DeliverNotificationCommand.from_payload(payload) for _, payload in queue.jobs}
    assert requeued == {
        DeliverNotificationCommand(notification_id=notification.id, channel=channel)
        for channel in notification.channels - {Channel.EMAIL}
    }
    assert await sweep() == 0


async def test_a_delivery_of_an_unknown_notification_does_nothing(
    world: NotificationWorld,
) -> None:
    command = DeliverNotificationCommand(notification_id=UUID(int=999), channel=Channel.EMAIL)
    assert await world.deliver()(command) is None
    assert world.mailer.sent == []


async def test_every_channel_of_every_kind_renders(world: NotificationWorld) -> None:
    """Each kind's templates get the values its handler provides (strict rendering).

    Every kind but password_changed mails: its email is the notice mailed at the change.
    """
    ada, bob = await world.user("ada"), await world.user("bob", verified=True)
    await world.verified_phone(bob)
    await world.subscription(bob, "https://push.example.test/bob")
    every_channel = {channel.value: True for channel in Channel}
    await world.update_preferences()(
        UpdateNotificationPreferencesCommand(
            user_id=bob, changes={kind.value: every_channel for kind in NotificationKind}
        )
    )
    for kind in NotificationKind:
        await world.notify(bob, draft(ada, kind=kind, source=f"all-{kind}"))
    outcomes = await world.run_deliveries()
    assert len(outcomes) == len(NotificationKind) * len(Channel) - 1
    assert {status for _, status in outcomes} == {DeliveryStatus.SENT}
    assert len(world.sms.sent) == len(world.push.sent) == 6
    assert len(world.mailer.sent) == 5


# --- event handlers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "consumer", "handler", "dependencies"),
    [
        (
            "user.followed",
            "notifications.new-follower",
            handlers.NotifyNewFollower,
            {"notify": NotifyUser, "users": UserRepository},
        ),
        (
            "article.published",
            "notifications.new-article",
            handlers.NotifyFollowersOfArticle,
            {"fan_out": FanOutToFollowers, "users": UserRepository},
        ),
        (
            "comment.added",
            "notifications.new-comment",
            handlers.NotifyArticleAuthorOfComment,
            {"notify": NotifyUser, "users": UserRepository},
        ),
        (
            "article.favorited",
            "notifications.article-favorited",
            handlers.NotifyAuthorOfFavorite,
            {"notify": NotifyUser, "users": UserRepository},
        ),
        (
            "user.signed_in",
            "notifications.new-login",
            handlers.NotifyOfSignIn,
            {"notify": NotifyUser},
        ),
        (
            "user.password_changed",
            "notifications.password-changed",
            handlers.NotifyOfPasswordChange,
            {"notify": NotifyUser, "users": UserRepository},
        ),
    ],
)
async def test_each_event_type_has_its_notifications_consumer(
    event_type: str,
    consumer: str,
    handler: type[EventHandler],
    dependencies: dict[str, type[Any]],
    world: NotificationWorld,
) -> None:
    [subscription] = notification_consumers(event_type)
    assert subscription.consumer == consumer
    assert subscription.handler is handler
    hints = get_type_hints(handler.__init__)
    assert {name: kind for name, kind in hints.items() if name != "return"} == dependencies
    container = make_async_container(EventHandlerProvider(), WorldProvider(world))
    try:
        async with container() as request:
            assert isinstance(await request.get(handler), handler)
    finally:
        await container.close()


async def test_a_follow_tells_the_followed_user_once(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    event = event_of(
        UserFollowed(aggregate_id=str(ada), occurred_at=world.clock.now(), followee_id=str(bob)),
        world.ids.new_id(),
    )
    assert await world.handle(event) == [True]
    [notification] = world.stored()
    assert notification.recipient_id == bob
    assert notification.kind is NotificationKind.NEW_FOLLOWER
    assert notification.actor_id == ada
    assert notification.subject == Subject(type="user", id="ada")
    assert notification.source == event.event_id
    assert dict(notification.data) == {"actor_username": "ada"}
    assert len(world.queue.of(DELIVER_NOTIFICATION)) == 3
    assert await world.handle(event) == [False]  # redelivered: skipped
    assert len(world.stored()) == 1
    assert len(world.queue.of(DELIVER_NOTIFICATION)) == 3


async def test_an_unknown_actor_is_someone(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    ghost = UserId(UUID(int=10**6))
    event = event_of(
        UserFollowed(aggregate_id=str(ghost), occurred_at=world.clock.now(), followee_id=str(bob)),
        world.ids.new_id(),
    )
    await world.handle(event)
    [notification] = world.stored()
    assert dict(notification.data) == {"actor_username": handlers.FORMER_MEMBER}


async def test_a_published_article_tells_every_follower_of_its_author(
    world: NotificationWorld,
) -> None:
    world.batch_size = 2
    author, fans = await followed_author(world, 3)
    event = event_of(
        ArticlePublished(
            aggregate_id="article-7",
            occurred_at=world.clock.now(),
            author_id=str(author),
            slug="how-to-train-your-dragon",
            title="How to Train Your Dragon",
            tags=("dragons",),
        ),
        world.ids.new_id(),
    )
    assert await world.handle(event) == [True]
    assert len(world.stored()) == 2  # the first batch, in the handler's transaction
    assert await world.run_fan_out_jobs() == [1]
    stored = world.stored()
    assert sorted((n.recipient_id for n in stored), key=lambda u: u.value) == sorted(
        fans, key=lambda u: u.value
    )
    for notification in stored:
        assert notification.kind is NotificationKind.NEW_ARTICLE
        assert notification.actor_id == author
        assert notification.subject == Subject(type="article", id="article-7")
        assert notification.source == event.event_id
        assert dict(notification.data) == {
            "actor_username": "ada",
            "article_title": "How to Train Your Dragon",
            "article_slug": "how-to-train-your-dragon",
        }


async def test_a_comment_tells_the_articles_author(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    event = event_of(
        CommentAdded(
            aggregate_id="comment-1",
            occurred_at=world.clock.now(),
            article_id="article-7",
            article_author_id=str(ada),
            author_id=str(bob),
            article_slug="dragons",
            article_title="Dragons",
        ),
        world.ids.new_id(),
    )
    assert await world.handle(event) == [True]
    [notification] = world.stored()
    assert (notification.recipient_id, notification.actor_id) == (ada, bob)
    assert notification.kind is NotificationKind.NEW_COMMENT
    assert notification.subject == Subject(type="article", id="article-7")
    assert dict(notification.data) == {
        "actor_username": "bob",
        "article_title": "Dragons",
        "article_slug": "dragons",
    }


async def test_a_comment_on_your_own_article_tells_nobody(world: NotificationWorld) -> None:
    ada = await world.user("ada")
    event = event_of(
        CommentAdded(
            aggregate_id="comment-1",
            occurred_at=world.clock.now(),
            article_id="article-7",
            article_author_id=str(ada),
            author_id=str(ada),
        ),
        world.ids.new_id(),
    )
    assert await world.handle(event) == [True]
    assert world.stored() == []
    assert world.queue.jobs == []


async def test_an_older_comment_event_without_display_fields_falls_back_to_blanks(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    event = ReceivedEvent(
        event_id=str(world.ids.new_id()),
        event_type="comment.added",
        aggregate_type="comment",
        aggregate_id="comment-1",
        occurred_at=world.clock.now(),
        payload={"article_id": "article-7", "article_author_id": str(ada), "author_id": str(bob)},
    )
    assert await world.handle(event) == [True]
    [notification] = world.stored()
    assert dict(notification.data) == {
        "actor_username": "bob",
        "article_title": "",
        "article_slug": "",
    }


async def test_a_favorite_tells_the_author_but_not_when_it_is_their_own(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    own = event_of(
        ArticleFavorited(
            aggregate_id="article-7",
            occurred_at=world.clock.now(),
            author_id=str(ada),
            user_id=str(ada),
            slug="dragons",
            title="Dragons",
        ),
        world.ids.new_id(),
    )
    assert await world.handle(own) == [True]
    assert world.stored() == []
    event = event_of(
        ArticleFavorited(
            aggregate_id="article-7",
            occurred_at=world.clock.now(),
            author_id=str(ada),
            user_id=str(bob),
            slug="dragons",
            title="Dragons",
        ),
        world.ids.new_id(),
    )
    assert await world.handle(event) == [True]
    [notification] = world.stored()
    assert (notification.recipient_id, notification.actor_id) == (ada, bob)
    assert notification.kind is NotificationKind.ARTICLE_FAVORITED
    assert notification.subject == Subject(type="article", id="article-7")
    assert notification.channels == {Channel.IN_APP, Channel.PUSH}
    assert dict(notification.data) == {
        "actor_username": "bob",
        "article_title": "Dragons",
        "article_slug": "dragons",
    }


async def test_a_sign_in_tells_the_user_from_where(world: NotificationWorld) -> None:
    ada = await world.user("ada")
    at = world.clock.now()
    event = event_of(
        UserSignedIn(
            aggregate_id=str(ada),
            occurred_at=at,
            session_id="session-9",
            device="Firefox on Linux",
            ip="203.0.113.9",
        ),
        world.ids.new_id(),
    )
    assert await world.handle(event) == [True]
    [notification] = world.stored()
    assert (notification.recipient_id, notification.actor_id) == (ada, None)
    assert notification.kind is NotificationKind.NEW_LOGIN
    assert notification.subject == Subject(type="session", id="session-9")
    assert dict(notification.data) == {
        "device": "Firefox on Linux",
        "ip_address": "203.0.113.9",
        "signed_in_at": at.isoformat(),
    }


async def test_a_password_change_tells_the_user_everywhere_but_by_email(
    world: NotificationWorld,
) -> None:
    """The email is the security notice the change mailed at commit; never a second one."""
    ada = await world.user("ada", verified=True)
    at = world.clock.now()
    event = event_of(PasswordChanged(aggregate_id=str(ada), occurred_at=at), world.ids.new_id())
    assert await world.handle(event) == [True]
    [notification] = world.stored()
    assert (notification.recipient_id, notification.actor_id) == (ada, None)
    assert notification.kind is NotificationKind.PASSWORD_CHANGED
    assert notification.subject == Subject(type="user", id="ada")
    assert dict(notification.data) == {"changed_at": at.isoformat()}
    assert notification.channels == set(Channel) - {Channel.EMAIL}
    assert len(world.queue.of(DELIVER_NOTIFICATION)) == 3
    await world.run_deliveries()
    assert world.mailer.sent == []


async def test_a_failing_handler_leaves_nothing_behind(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    event = event_of(
        UserFollowed(aggregate_id=str(ada), occurred_at=world.clock.now(), followee_id=str(bob)),
        world.ids.new_id(),
    )

    def refuse(task: str, payload: Mapping[str, str]) -> None:
        raise AssertionError("nothing may be enqueued for a rolled-back event")

    world.queue.check = refuse
    broken = ReceivedEvent(
        event_id=event.event_id,
        event_type=event.event_type,
        aggregate_type=event.aggregate_type,
        aggregate_id=event.aggregate_id,
        occurred_at=event.occurred_at,
        payload={},  # no followee_id: the handler raises after nothing was stored
    )
    with pytest.raises(KeyError):
        await world.handle(broken)
    assert world.stored() == []
    world.queue.check = None
    assert await world.handle(event) == [True]  # the claim was rolled back too
    assert len(world.stored()) == 1


# --- reading and marking -----------------------------------------------------------------


async def test_marking_read_touches_only_the_callers_own(world: NotificationWorld) -> None:
    ada, bob, cat = await world.user("ada"), await world.user("bob"), await world.user("cat")
    mine = await world.notified(bob, ada)
    theirs = await world.notified(cat, ada)
    first_read = world.clock.now()
    found = await world.mark_read()(
        MarkNotificationsReadCommand(recipient=bob, notification_ids=[mine.id, theirs.id, mine.id])
    )
    assert [(n.id, n.read_at) for n in found] == [(mine.id, first_read)]
    other = await world.notifications.get(theirs.id)
    assert other is not None
    assert other.read_at is None
    world.clock.advance(timedelta(hours=1))
    [again] = await world.mark_read()(
        MarkNotificationsReadCommand(recipient=bob, notification_ids=[mine.id])
    )
    assert again.read_at == first_read


async def test_marking_by_url_requires_every_id_to_be_the_callers(
    world: NotificationWorld,
) -> None:
    ada, bob, cat = await world.user("ada"), await world.user("bob"), await world.user("cat")
    mine = await world.notified(bob, ada)
    theirs = await world.notified(cat, ada)
    with pytest.raises(NotFoundError) as caught:
        await world.mark_read()(
            MarkNotificationsReadCommand(
                recipient=bob, notification_ids=[mine.id, theirs.id], require_all=True
            )
        )
    assert caught.value.field == "notification"
    still = await world.notifications.get(mine.id)
    assert still is not None
    assert still.read_at is None  # rolled back with the refusal


async def test_marking_is_limited_to_a_hundred_ids(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    many = [UUID(int=i) for i in range(101)]
    with pytest.raises(InvalidInputError) as caught:
        await world.mark_read()(MarkNotificationsReadCommand(recipient=bob, notification_ids=many))
    assert caught.value.field == "ids"
    repeated = [UUID(int=1)] * 150  # repeats count once
    assert (
        await world.mark_read()(
            MarkNotificationsReadCommand(recipient=bob, notification_ids=repeated)
        )
        == []
    )
    assert (
        await world.mark_read()(MarkNotificationsReadCommand(recipient=bob, notification_ids=[]))
        == []
    )


async def test_mark_all_marks_only_the_callers_unread_in_app_ones(
    world: NotificationWorld,
) -> None:
    ada, bob, cat = await world.user("ada"), await world.user("bob"), await world.user("cat")
    await world.update_preferences()(
        UpdateNotificationPreferencesCommand(
            user_id=bob, changes={"new_comment": {"in_app": False}}
        )
    )
    read = await world.notified(bob, ada)
    await world.mark_read()(MarkNotificationsReadCommand(recipient=bob, notification_ids=[read.id]))
    await world.notified(bob, ada)
    await world.notified(bob, ada, NotificationKind.ARTICLE_FAVORITED)
    email_only = await world.notified(bob, ada, NotificationKind.NEW_COMMENT)
    await world.notified(cat, ada)
    count = CountUnreadNotifications(world.notifications)
    assert await count(bob) == 2
    assert await world.mark_all_read()(bob) == 2
    assert await count(bob) == 0
    assert await count(cat) == 1
    assert await world.mark_all_read()(bob) == 0
    hidden = await world.notifications.get(email_only.id)
    assert hidden is not None
    assert not hidden.in_app


async def test_the_list_is_the_callers_in_app_ones_newest_first(
    world: NotificationWorld,
) -> None:
    ada, bob, cat = await world.user("ada"), await world.user("bob"), await world.user("cat")
    await world.update_preferences()(
        UpdateNotificationPreferencesCommand(
            user_id=bob, changes={"new_comment": {"in_app": False}}
        )
    )
    created = []
    for kind in (
        NotificationKind.NEW_FOLLOWER,
        NotificationKind.NEW_ARTICLE,
        NotificationKind.NEW_COMMENT,  # email and push only: not listed
        NotificationKind.ARTICLE_FAVORITED,
    ):
        created.append(await world.notified(bob, ada, kind))
        world.clock.advance(timedelta(minutes=1))
    await world.notified(cat, ada)
    await world.mark_read()(
        MarkNotificationsReadCommand(recipient=bob, notification_ids=[created[1].id])
    )
    list_notifications = ListNotifications(world.notifications)
    page = await list_notifications(ListNotificationsCommand(recipient=bob, page=PageRequest()))
    assert [n.id for n in page.items] == [created[3].id, created[1].id, created[0].id]
    assert page.total == 3
    second = await list_notifications(
        ListNotificationsCommand(recipient=bob, page=PageRequest(limit=1, offset=1))
    )
    assert ([n.id for n in second.items], second.total) == ([created[1].id], 3)
    unread = await list_notifications(
        ListNotificationsCommand(recipient=bob, page=PageRequest(), unread_only=True)
    )
    assert ([n.id for n in unread.items], unread.total) == ([created[3].id, created[0].id], 2)
    assert await CountUnreadNotifications(world.notifications)(bob) == 2


# --- preferences -------------------------------------------------------------------------


async def test_preferences_change_only_the_switches_given(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    read = GetNotificationPreferences(world.preferences)
    before = await read(bob)
    updated = await world.update_preferences()(
        UpdateNotificationPreferencesCommand(
            user_id=bob,
            changes={"new_article": {"email": False}, "password_changed": {"sms": False}},
        )
    )
    assert await read(bob) == updated
    table = updated.as_table()
    assert table[NotificationKind.NEW_ARTICLE] == {
        Channel.IN_APP: True,
        Channel.EMAIL: False,
        Channel.SMS: False,
        Channel.PUSH: True,
    }
    assert table[NotificationKind.PASSWORD_CHANGED][Channel.SMS] is False
    assert table[NotificationKind.NEW_FOLLOWER] == before.as_table()[NotificationKind.NEW_FOLLOWER]


@pytest.mark.parametrize(
    "changes",
    [
        {"new_article": {"email": False}, "no_such_kind": {"email": True}},
        {"new_article": {"email": False, "pigeon": True}},
        {"NEW_ARTICLE": {"email": False}},
    ],
)
async def test_an_unknown_kind_or_channel_changes_nothing(
    world: NotificationWorld, changes: dict[str, dict[str, bool]]
) -> None:
    bob = await world.user("bob")
    with pytest.raises(InvalidInputError) as caught:
        await world.update_preferences()(
            UpdateNotificationPreferencesCommand(user_id=bob, changes=changes)
        )
    assert caught.value.field == "preferences"
    assert (await world.preferences.get(bob)).chosen == {}


async def test_security_email_stays_on_and_the_refusal_changes_nothing(
    world: NotificationWorld,
) -> None:
    bob = await world.user("bob")
    with pytest.raises(DomainError) as caught:
        await world.update_preferences()(
            UpdateNotificationPreferencesCommand(
                user_id=bob,
                changes={"new_article": {"email": False}, "new_login": {"email": False}},
            )
        )
    assert caught.value.field == "preferences"
    assert (await world.preferences.get(bob)).chosen == {}


# --- push subscriptions ------------------------------------------------------------------


def subscribe(user: UserId, endpoint: str, *, auth: str = AUTH) -> SubscribeToPushCommand:
    return SubscribeToPushCommand(user_id=user, endpoint=endpoint, p256dh=P256DH, auth=auth)


async def test_subscriptions_are_limited_per_user(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    await world.subscribe_to_push()(subscribe(bob, "https://push.example.test/1"))
    await world.subscribe_to_push()(subscribe(bob, "https://push.example.test/2"))
    with pytest.raises(InvalidInputError) as caught:
        await world.subscribe_to_push()(subscribe(bob, "https://push.example.test/3"))
    assert caught.value.field == "endpoint"
    assert "limit of 2" in caught.value.message
    assert [s.endpoint for s in await world.push_subscriptions.for_user(bob)] == [
        "https://push.example.test/1",
        "https://push.example.test/2",
    ]


async def test_subscribing_the_same_endpoint_again_replaces_it(world: NotificationWorld) -> None:
    bob, cat = await world.user("bob"), await world.user("cat")
    await world.subscribe_to_push()(subscribe(bob, "https://push.example.test/1"))
    await world.subscribe_to_push()(subscribe(bob, "https://push.example.test/2"))
    world.clock.advance(timedelta(days=1))
    new_auth = b64url(bytes(range(100, 116)))
    renewed = await world.subscribe_to_push()(
        subscribe(bob, "https://push.example.test/1", auth=new_auth)  # at the limit: allowed
    )
    subscriptions = await world.push_subscriptions.for_user(bob)
    assert len(subscriptions) == 2
    assert renewed in subscriptions
    assert renewed.auth == new_auth
    assert renewed.created_at == world.clock.now()
    await world.subscribe_to_push()(subscribe(cat, "https://push.example.test/2"))
    assert [s.endpoint for s in await world.push_subscriptions.for_user(bob)] == [
        "https://push.example.test/1"
    ]
    assert [s.endpoint for s in await world.push_subscriptions.for_user(cat)] == [
        "https://push.example.test/2"
    ]


async def test_a_bad_subscription_is_refused_naming_the_field(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    with pytest.raises(DomainError) as caught:
        await world.subscribe_to_push()(subscribe(bob, "http://push.example.test/1"))
    assert caught.value.field == "endpoint"
    with pytest.raises(DomainError) as caught:
        await world.subscribe_to_push()(subscribe(bob, "https://push.example.test/1", auth="x"))
    assert caught.value.field == "auth"
    assert await world.push_subscriptions.for_user(bob) == []


async def test_unsubscribing_forgets_only_the_callers_own(world: NotificationWorld) -> None:
    bob, cat = await world.user("bob"), await world.user("cat")
    await world.subscribe_to_push()(subscribe(bob, "https://push.example.test/1"))
    unsubscribe = UnsubscribeFromPush(world.uow(), world.push_subscriptions)
    endpoint = "https://push.example.test/1"
    assert not await unsubscribe(UnsubscribeFromPushCommand(user_id=cat, endpoint=endpoint))
    assert len(await world.push_subscriptions.for_user(bob)) == 1
    assert await unsubscribe(UnsubscribeFromPushCommand(user_id=bob, endpoint=endpoint))
    assert not await unsubscribe(UnsubscribeFromPushCommand(user_id=bob, endpoint=endpoint))


# --- phone numbers -----------------------------------------------------------------------


async def test_setting_a_number_texts_a_code_after_the_commit(world: NotificationWorld) -> None:
    bob = await world.user("bob")

    def saved_first(task: str, payload: Mapping[str, str]) -> None:
        rows: dict[UserId, PhoneVerification] = world.database.table(PHONE_NUMBERS)
        assert bob in rows, "the code was sent before the number was stored"

    world.queue.check = saved_first
    state = await world.set_phone_number()(
        SetPhoneNumberCommand(user_id=bob, phone="+1 (415) 555-0100", client_ip=CLIENT_IP)
    )
    assert state == PhoneNumberState(number="+1********00", verified=False)
    [payload] = world.queue.take(SEND_TEMPLATED_SMS)
    assert world.queue.jobs == []
    command = SendTemplatedSmsCommand.from_payload(payload)
    assert command == SendTemplatedSmsCommand(
        to=PHONE,
        template="sms/phone_code",
        context={"code": "000001", "app_name": APP_NAME, "minutes": "10"},
    )
    await SendTemplatedSms(world.renderer, world.sms)(command)
    assert list(world.sms.sent) == [
        SmsMessage(
            to=PHONE,
            body=(
                "000001 is your Portico verification code. It expires in 10 minutes. "
                "Never share it."
            ),
        )
    ]
    stored = await world.phones.get(bob)
    assert stored is not None
    assert stored.code_hash == world.secrets.fingerprint("000001")  # only the hash is kept
    assert await GetPhoneNumber(world.phones)(bob) == state


async def test_codes_per_user_are_limited(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    for _ in range(3):
        await world.set_phone_number()(
            SetPhoneNumberCommand(user_id=bob, phone=PHONE, client_ip=CLIENT_IP)
        )
    codes = [p["ctx.code"] for p in world.queue.take(SEND_TEMPLATED_SMS)]
    with pytest.raises(TooManyRequestsError) as caught:
        await world.set_phone_number()(
            SetPhoneNumberCommand(user_id=bob, phone=PHONE, client_ip=CLIENT_IP)
        )
    assert caught.value.retry_after_seconds > 0
    assert world.queue.jobs == []
    stored = await world.phones.get(bob)
    assert stored is not None
    assert stored.code_hash == world.secrets.fingerprint(codes[-1])  # the last code still holds


async def test_no_code_is_sent_while_the_limiter_is_down(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    world.limiter = UnavailableLimiter()
    with pytest.raises(DependencyUnavailableError) as caught:
        await world.set_phone_number()(
            SetPhoneNumberCommand(user_id=bob, phone=PHONE, client_ip=CLIENT_IP)
        )
    assert caught.value.field == "rate_limit"
    assert world.queue.jobs == []
    assert await world.phones.get(bob) is None


async def test_a_code_the_queue_refuses_is_a_503_not_a_silent_success(
    world: NotificationWorld,
) -> None:
    bob = await world.user("bob")

    def refuse(task: str, payload: Mapping[str, str]) -> None:
        raise ConnectionError("redis is down")

    world.queue.check = refuse
    with pytest.raises(DependencyUnavailableError) as caught:
        await world.set_phone_number()(
            SetPhoneNumberCommand(user_id=bob, phone=PHONE, client_ip=CLIENT_IP)
        )
    assert caught.value.field == "phone"
    stored = await world.phones.get(bob)
    assert stored is not None
    assert not stored.is_verified


async def test_the_same_verified_number_again_changes_nothing(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    await world.verified_phone(bob)
    world.limiter = UnavailableLimiter()  # not even consulted
    state = await world.set_phone_number()(
        SetPhoneNumberCommand(user_id=bob, phone="+1 415 555 0100", client_ip=CLIENT_IP)
    )
    assert state == PhoneNumberState(number="+1********00", verified=True)
    assert world.queue.jobs == []
    stored = await world.phones.get(bob)
    assert stored is not None
    assert stored.is_verified


async def test_a_new_number_replaces_the_verified_one(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    await world.verified_phone(bob)
    state = await world.set_phone_number()(
        SetPhoneNumberCommand(user_id=bob, phone="+33612345678", client_ip=CLIENT_IP)
    )
    assert state == PhoneNumberState(number="+3********78", verified=False)
    stored = await world.phones.get(bob)
    assert stored is not None
    assert (stored.number, stored.is_verified) == (PhoneNumber("+33612345678"), False)
    assert [p["to"] for p in world.queue.take(SEND_TEMPLATED_SMS)] == ["+33612345678"]


async def test_a_malformed_number_is_refused_before_anything_happens(
    world: NotificationWorld,
) -> None:
    bob = await world.user("bob")
    with pytest.raises(DomainError) as caught:
        await world.set_phone_number()(
            SetPhoneNumberCommand(user_id=bob, phone="415 555 0100", client_ip=CLIENT_IP)
        )
    assert caught.value.field == "phone"
    assert world.queue.jobs == []
    assert await world.phones.get(bob) is None


async def set_and_read_code(world: NotificationWorld, user: UserId, phone: str = PHONE) -> str:
    await world.set_phone_number()(
        SetPhoneNumberCommand(user_id=user, phone=phone, client_ip=CLIENT_IP)
    )
    [payload] = world.queue.take(SEND_TEMPLATED_SMS)
    return payload["ctx.code"]


async def test_the_texted_code_verifies_the_number(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    code = await set_and_read_code(world, bob)
    state = await world.verify_phone_number()(
        VerifyPhoneNumberCommand(user_id=bob, code=f" {code} ")
    )
    assert state == PhoneNumberState(number="+1********00", verified=True)
    stored = await world.phones.get(bob)
    assert stored is not None
    assert (stored.is_verified, stored.verified_at) == (True, world.clock.now())
    assert await GetPhoneNumber(world.phones)(bob) == state


async def test_a_newly_verified_number_is_told_to_the_accounts_address(
    world: NotificationWorld,
) -> None:
    bob = await world.user("bob")
    code = await set_and_read_code(world, bob)
    await world.verify_phone_number()(VerifyPhoneNumberCommand(user_id=bob, code=code))
    [notice] = world.queue.take(SEND_TEMPLATED_EMAIL)
    owner = await world.users.get(bob)
    assert owner is not None
    assert (notice["to"], notice["template"]) == (str(owner.email), "security_phone_changed")
    assert (notice["security"], notice["ctx.phone_ending"]) == ("true", "00")
    await world.verify_phone_number()(VerifyPhoneNumberCommand(user_id=bob, code=code))
    assert world.queue.take(SEND_TEMPLATED_EMAIL) == []


async def test_a_wrong_code_is_counted_even_though_it_fails(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    code = await set_and_read_code(world, bob)
    with pytest.raises(PhoneCodeError) as caught:
        await world.verify_phone_number()(VerifyPhoneNumberCommand(user_id=bob, code="999999"))
    assert caught.value.field == "code"
    stored = await world.phones.get(bob)
    assert stored is not None
    assert (stored.attempts_left, stored.is_verified) == (4, False)
    for _ in range(4):
        with pytest.raises(PhoneCodeError):
            await world.verify_phone_number()(VerifyPhoneNumberCommand(user_id=bob, code="999999"))
    with pytest.raises(PhoneCodeError, match="request a new one"):
        await world.verify_phone_number()(VerifyPhoneNumberCommand(user_id=bob, code=code))
    fresh = await set_and_read_code(world, bob)  # a resend resets the attempts
    stored = await world.phones.get(bob)
    assert stored is not None
    assert stored.attempts_left == 5
    await world.verify_phone_number()(VerifyPhoneNumberCommand(user_id=bob, code=fresh))


async def test_an_expired_code_needs_a_new_one(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    code = await set_and_read_code(world, bob)
    world.clock.advance(timedelta(minutes=10))
    with pytest.raises(PhoneCodeError, match="expired"):
        await world.verify_phone_number()(VerifyPhoneNumberCommand(user_id=bob, code=code))


async def test_verifying_without_a_number_is_not_found(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    with pytest.raises(NotFoundError) as caught:
        await world.verify_phone_number()(VerifyPhoneNumberCommand(user_id=bob, code="000001"))
    assert caught.value.field == "phone"


async def test_removing_the_number_forgets_it(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    await world.verified_phone(bob)
    remove = RemovePhoneNumber(world.uow(), world.phones)
    assert await remove(bob) is True
    assert await remove(bob) is False
    assert await GetPhoneNumber(world.phones)(bob) is None
