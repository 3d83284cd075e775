"""Providers for notifications: their stores, push, the realtime fan-out, and the use cases.

The live messages' encoder comes from the HTTP schemas, in every process that delivers.
"""

from collections.abc import AsyncIterator
from datetime import timedelta

from dishka import Provider, Scope, provide, provide_all
from redis.asyncio import Redis

from adapters.inprocess.push import InProcessPushSender
from adapters.inprocess.realtime import InProcessRealtimeBroadcaster
from adapters.redis.realtime import RedisRealtimeBroadcaster
from adapters.sqlalchemy.notifications.delivery_log import SqlDeliveryLog
from adapters.sqlalchemy.notifications.followers import SqlFollowerReader
from adapters.sqlalchemy.notifications.inbox import SqlNotificationRepository
from adapters.sqlalchemy.notifications.phone_verifications import SqlPhoneVerificationRepository
from adapters.sqlalchemy.notifications.preferences import SqlNotificationPreferencesRepository
from adapters.sqlalchemy.notifications.push_subscriptions import SqlPushSubscriptionRepository
from adapters.system.host_resolver import SystemHostResolver
from adapters.webpush.sender import WebPushSender
from application.common.ports.cache import Cache
from application.common.ports.rate_limits import RateLimit
from application.common.ports.realtime import RealtimeBroadcaster
from application.notifications.count_unread_notifications import CountUnreadNotifications
from application.notifications.deliver_notification import DeliverNotification
from application.notifications.delivery_policy import DeliverySweepPolicy
from application.notifications.fan_out_to_followers import FanOutPolicy, FanOutToFollowers
from application.notifications.get_notification_preferences import GetNotificationPreferences
from application.notifications.get_phone_number import GetPhoneNumber
from application.notifications.links import NotificationLinks
from application.notifications.list_notifications import ListNotifications
from application.notifications.mark_all_notifications_read import MarkAllNotificationsRead
from application.notifications.mark_notifications_read import MarkNotificationsRead
from application.notifications.notification_factory import NotificationFactory
from application.notifications.notify_user import NotifyUser
from application.notifications.ports import (
    DeliveryLog,
    FollowerReader,
    HostResolver,
    NotificationEncoder,
    NotificationPreferencesRepository,
    NotificationRepository,
    PhoneVerificationRepository,
    PushSender,
    PushSubscriptionRepository,
)
from application.notifications.purge_old_notifications import PurgeOldNotifications
from application.notifications.recipient_caps import MessageCaps, RecipientCaps
from application.notifications.remove_phone_number import RemovePhoneNumber
from application.notifications.repeat_policy import RepeatPolicy
from application.notifications.requeue_stale_deliveries import RequeueStaleDeliveries
from application.notifications.send_templated_sms import SendTemplatedSms
from application.notifications.set_phone_number import (
    PhoneCodePolicy,
    SetPhoneNumber,
    calling_codes,
)
from application.notifications.subscribe_to_push import PushPolicy, SubscribeToPush
from application.notifications.unsubscribe_from_push import UnsubscribeFromPush
from application.notifications.update_notification_preferences import (
    UpdateNotificationPreferences,
)
from application.notifications.verify_phone_number import VerifyPhoneNumber
from application.users.live_sessions import LiveSessionCloser
from domain.notifications.notification import NotificationKind
from entrypoints.config.loader import push_allowlist
from entrypoints.config.settings import Settings
from entrypoints.http.realtime.tickets import LiveTickets
from entrypoints.http.schemas.notifications import JsonNotificationEncoder
from entrypoints.ioc.markers import PUSH, REDIS

HOUR = 3_600
"""The window of the hourly caps and budget, in seconds."""


class NotificationStoreProvider(Provider):
    """The PostgreSQL stores of notifications, on the request's connection."""

    scope = Scope.REQUEST
    notifications = provide(SqlNotificationRepository, provides=NotificationRepository)
    preferences = provide(
        SqlNotificationPreferencesRepository, provides=NotificationPreferencesRepository
    )
    deliveries = provide(SqlDeliveryLog, provides=DeliveryLog)
    push_subscriptions = provide(SqlPushSubscriptionRepository, provides=PushSubscriptionRepository)
    phones = provide(SqlPhoneVerificationRepository, provides=PhoneVerificationRepository)
    followers = provide(SqlFollowerReader, provides=FollowerReader)


class RealtimeProvider(Provider):
    """Fan-out over Redis pub/sub when Redis is configured, else within this process.

    The closer of ended sessions' live channels publishes through it, in every process.
    The live messages are encoded by the HTTP schema's encoder, so the API process and
    the worker, which both deliver, send what the REST routes return.
    """

    scope = Scope.APP
    live_sessions = provide(LiveSessionCloser)
    encoder = provide(JsonNotificationEncoder, provides=NotificationEncoder)

    @provide(when=REDIS)
    async def redis(self, client: Redis, settings: Settings) -> AsyncIterator[RealtimeBroadcaster]:
        """Every process sees what any process publishes."""
        broadcaster = RedisRealtimeBroadcaster(
            client, channel_prefix=settings.notifications.realtime_channel_prefix
        )
        yield broadcaster
        await broadcaster.close()

    @provide(when=~REDIS)
    async def memory(self) -> AsyncIterator[RealtimeBroadcaster]:
        """One process: the embedded mode, where jobs run beside the sockets."""
        broadcaster = InProcessRealtimeBroadcaster()
        yield broadcaster
        await broadcaster.close()

    @provide
    def live_tickets(self, cache: Cache, settings: Settings) -> LiveTickets:
        """Single-use tickets that authenticate a socket at its handshake, in the cache."""
        return LiveTickets(cache, ttl_seconds=settings.websocket.ticket_ttl_seconds)


class PushProvider(Provider):
    """Web Push when a VAPID key is configured, else pushes kept in memory and logged."""

    scope = Scope.APP

    @provide(when=PUSH)
    async def web_push(self, settings: Settings) -> AsyncIterator[PushSender]:
        """Encrypted, VAPID-signed pushes to the browsers' push services."""
        push = settings.push
        assert push.vapid_private_key is not None  # noqa: S101 - guaranteed by the marker
        sender = WebPushSender(
            vapid_private_key=push.vapid_private_key,
            vapid_subject=push.vapid_subject,
            timeout_seconds=push.timeout_seconds,
            allow_private_networks=push.allow_local_endpoints,
        )
        yield sender
        await sender.aclose()

    @provide(when=~PUSH)
    def kept(self) -> PushSender:
        """Keep and log what would have been pushed."""
        return InProcessPushSender()

    @provide
    def host_resolver(self, settings: Settings) -> HostResolver:
        """The system's resolver, for the hosts of new push endpoints."""
        return SystemHostResolver(timeout_seconds=settings.push.resolve_timeout_seconds)


class NotificationPolicyProvider(Provider):
    """Notification limits and links, from settings."""

    scope = Scope.APP

    @provide
    def links(self, settings: Settings) -> NotificationLinks:
        """Links to the built-in landing pages at APP_PUBLIC_URL, or into a web frontend."""
        links = settings.links
        if links.frontend_url is None:
            return NotificationLinks(public_url=settings.app.public_url, app_name=settings.app.name)
        return NotificationLinks(
            public_url=links.frontend_url,
            app_name=settings.app.name,
            article_path=links.article_path,
            profile_path=links.profile_path,
            settings_path=links.settings_path,
        )

    @provide
    def fan_out(self, settings: Settings) -> FanOutPolicy:
        """Followers per batch."""
        return FanOutPolicy(batch_size=settings.notifications.fan_out_batch_size)

    @provide
    def delivery_sweep(self, settings: Settings) -> DeliverySweepPolicy:
        """When a pending delivery counts as lost."""
        return DeliverySweepPolicy(
            stale_after=timedelta(seconds=settings.notifications.delivery_stale_seconds)
        )

    @provide
    def push(self, settings: Settings) -> PushPolicy:
        """Subscriptions per user, the allowed push services, and the local-testing escape."""
        return PushPolicy(
            max_per_user=settings.push.max_subscriptions_per_user,
            allowed_hosts=push_allowlist(settings),
            allow_local_endpoints=settings.push.allow_local_endpoints,
        )

    @provide
    def phone_codes(self, settings: Settings) -> PhoneCodePolicy:
        """Code lifetime, sends per account, number and client, the budget and countries."""
        notifications = settings.notifications
        return PhoneCodePolicy(
            ttl=timedelta(seconds=notifications.phone_code_ttl_seconds),
            sends=RateLimit(
                limit=notifications.phone_codes_per_window,
                window_seconds=notifications.phone_codes_window_seconds,
            ),
            per_client=RateLimit(
                limit=notifications.phone_codes_per_client,
                window_seconds=notifications.phone_codes_window_seconds,
            ),
            budget=RateLimit(limit=notifications.phone_codes_budget_per_hour, window_seconds=HOUR),
            calling_codes=calling_codes(notifications.phone_calling_codes),
            app_name=settings.app.name,
        )

    @provide
    def message_caps(self, settings: Settings) -> MessageCaps:
        """Emails and texts one recipient may get per hour."""
        notifications = settings.notifications

        def hourly(limit: int) -> RateLimit:
            return RateLimit(limit=limit, window_seconds=HOUR)

        return MessageCaps(
            email=hourly(notifications.emails_per_recipient_per_hour),
            security_email=hourly(notifications.security_emails_per_recipient_per_hour),
            sms=hourly(notifications.sms_per_recipient_per_hour),
            security_sms=hourly(notifications.security_sms_per_recipient_per_hour),
        )

    @provide
    def repeats(self, settings: Settings) -> RepeatPolicy:
        """One new_follower notification per follower and followee per window."""
        window = timedelta(seconds=settings.notifications.new_follower_window_seconds)
        return RepeatPolicy(quiet_periods={NotificationKind.NEW_FOLLOWER: window})


class NotificationUseCaseProvider(Provider):
    """The notification use cases, per request."""

    scope = Scope.REQUEST
    use_cases = provide_all(
        NotificationFactory,
        RecipientCaps,
        NotifyUser,
        FanOutToFollowers,
        DeliverNotification,
        ListNotifications,
        CountUnreadNotifications,
        MarkNotificationsRead,
        MarkAllNotificationsRead,
        GetNotificationPreferences,
        UpdateNotificationPreferences,
        SubscribeToPush,
        UnsubscribeFromPush,
        SetPhoneNumber,
        VerifyPhoneNumber,
        GetPhoneNumber,
        RemovePhoneNumber,
        SendTemplatedSms,
        RequeueStaleDeliveries,
        PurgeOldNotifications,
    )
