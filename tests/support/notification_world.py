"""The notification use cases on in-memory adapters (no servers), for the unit tests.

`NotificationWorld` wires every use case, job and event handler of the notifications
context on one in-memory database, clock and id source, and arranges what the tests act
on: accounts, follows, verified phones, push subscriptions, notifications.
"""

import base64
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

from dishka import Provider, Scope, make_async_container, provide

from adapters.inprocess.rate_limiter import InProcessRateLimiter
from adapters.inprocess.realtime import InProcessRealtimeBroadcaster
from adapters.inprocess.sms import InProcessSmsSender
from adapters.memory.database import InMemoryDatabase
from adapters.memory.file_storage import InMemoryFileStorage
from adapters.memory.files import InMemoryFileRepository
from adapters.memory.host_resolver import InMemoryHostResolver
from adapters.memory.metrics import InMemoryMetrics
from adapters.memory.notifications.delivery_log import InMemoryDeliveryLog
from adapters.memory.notifications.followers import InMemoryFollowerReader
from adapters.memory.notifications.inbox import NOTIFICATIONS, InMemoryNotificationRepository
from adapters.memory.notifications.phone_verifications import InMemoryPhoneVerificationRepository
from adapters.memory.notifications.preferences import InMemoryNotificationPreferencesRepository
from adapters.memory.notifications.push_subscriptions import InMemoryPushSubscriptionRepository
from adapters.memory.processed_events import InMemoryProcessedEvents
from adapters.memory.security import SequentialOpaqueTokens
from adapters.memory.system import ManualClock, SequentialIdGenerator
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from adapters.memory.users import InMemoryUserRepository
from adapters.templates.jinja import JinjaTemplateRenderer
from application.common.ports.rate_limits import RateLimit, RateLimiter
from application.events.handle_event import HandleEvent, HandleEventCommand
from application.events.received_event import ReceivedEvent
from application.files.delete_article_images import DeleteArticleImages
from application.notifications.deliver_notification import (
    DELIVER_NOTIFICATION,
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
from application.notifications.links import NotificationLinks
from application.notifications.mark_all_notifications_read import MarkAllNotificationsRead
from application.notifications.mark_notifications_read import MarkNotificationsRead
from application.notifications.notification_factory import NotificationDraft, NotificationFactory
from application.notifications.notify_user import NotifyUser, NotifyUserCommand
from application.notifications.ports import DeliveryStatus
from application.notifications.recipient_caps import MessageCaps, RecipientCaps
from application.notifications.repeat_policy import RepeatPolicy
from application.notifications.set_phone_number import PhoneCodePolicy, SetPhoneNumber
from application.notifications.subscribe_to_push import PushPolicy, SubscribeToPush
from application.notifications.update_notification_preferences import UpdateNotificationPreferences
from application.notifications.verify_phone_number import VerifyPhoneNumber
from application.users.ports import UserRepository
from application.users.security_notices import SecurityNotices
from domain.notifications.notification import Channel, Notification, NotificationKind
from domain.notifications.phone import PhoneNumber, PhoneVerification
from domain.notifications.push import PushSubscription
from domain.notifications.push_endpoint import PushServiceAllowlist
from domain.users.user import User
from domain.users.values import Email, UserId, Username
from entrypoints.http.schemas.notifications import JsonNotificationEncoder
from entrypoints.ioc.events import EventHandlerProvider
from tests.support.notification_drafts import draft, notification_consumers
from tests.support.notification_fakes import FlakyMailer, PickyPushSender, RecordingQueue

APP_NAME = "Portico"
PUBLIC_URL = "https://portico.test"
PHONE = "+14155550100"
CLIENT_IP = "203.0.113.7"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


P256DH = b64url(b"\x04" + bytes(range(64)))
AUTH = b64url(bytes(range(16)))

SWEEP = DeliverySweepPolicy(stale_after=timedelta(minutes=2))


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
        self.encoder = JsonNotificationEncoder()
        self.renderer = JinjaTemplateRenderer()
        self.mailer = FlakyMailer()
        self.sms = InProcessSmsSender()
        self.push = PickyPushSender()
        self.links = NotificationLinks(public_url=PUBLIC_URL, app_name=APP_NAME)
        self.secrets = SequentialOpaqueTokens()
        self.limiter: RateLimiter = InProcessRateLimiter(self.clock)
        self.metrics = InMemoryMetrics()
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
            encoder=self.encoder,
            renderer=self.renderer,
            mailer=self.mailer,
            sms=self.sms,
            push=self.push,
            links=self.links,
            sweep=sweep,
            clock=self.clock,
            caps=RecipientCaps(self.limiter, self.caps),
            metrics=self.metrics,
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

    @provide
    def delete_article_images(self, uow: InMemoryUnitOfWork) -> DeleteArticleImages:
        """The files context's handler in the table too, on this world's database."""
        world = self._world
        return DeleteArticleImages(
            uow=uow,
            files=InMemoryFileRepository(world.database),
            storage=InMemoryFileStorage(),
            clock=world.clock,
        )


async def followed_author(world: NotificationWorld, followers: int) -> tuple[UserId, list[UserId]]:
    author = await world.user("ada")
    fans = [await world.user(f"fan{i}") for i in range(followers)]
    for fan in fans:
        await world.follow(fan, author)
    other = await world.user("zed")  # follows someone else only
    await world.follow(other, fans[0])
    return author, fans
