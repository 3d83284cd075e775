"""Job: deliver one notification on one channel."""

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from uuid import UUID

from application.audit.capture import not_audited
from application.common.errors import DependencyUnavailableError
from application.common.ports.clock import Clock
from application.common.ports.metrics import DeliveryMetrics
from application.common.ports.realtime import RealtimeBroadcaster, RoomMessage, user_room
from application.common.ports.unit_of_work import UnitOfWork
from application.notifications.delivery_outcomes import DeliveryOutcomes
from application.notifications.delivery_policy import DeliverySweepPolicy
from application.notifications.links import NotificationLinks
from application.notifications.ports import (
    DeliveryLog,
    DeliveryStatus,
    EmailMessage,
    Mailer,
    NotificationEncoder,
    NotificationRepository,
    PhoneVerificationRepository,
    PushMessage,
    PushOutcome,
    PushRejectedError,
    PushSender,
    PushSubscriptionRepository,
    SmsMessage,
    SmsSender,
    TemplateRenderer,
)
from application.notifications.recipient_caps import RecipientCaps
from application.users.ports import UserRepository
from domain.notifications.notification import SECURITY_KINDS, Channel, Notification
from domain.users.user import User

_log = logging.getLogger(__name__)

DELIVER_NOTIFICATION = "deliver_notification"
"""The task name under which this job is enqueued."""

PUSH_TTL_SECONDS = 24 * 60 * 60
"""How long a push service keeps a message for a browser that is offline."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverNotificationCommand:
    """Which notification, on which channel."""

    notification_id: UUID
    channel: Channel

    def as_payload(self) -> dict[str, str]:
        """The flat payload a task queue carries."""
        return {"notification_id": str(self.notification_id), "channel": self.channel.value}

    @classmethod
    def from_payload(cls, payload: Mapping[str, str]) -> "DeliverNotificationCommand":
        """Rebuild the command a worker received."""
        return cls(
            notification_id=UUID(payload["notification_id"]), channel=Channel(payload["channel"])
        )


class Undeliverable(Exception):  # noqa: N818 - an outcome, not a failure to retry
    """The channel cannot reach the recipient (no verified phone, no push subscription)."""


@not_audited(
    "delivery bookkeeping: claims and records each attempt to deliver a notification,"
    " several per notification; the delivery log is its record"
)
class DeliverNotification:
    """Send a notification on one channel, and record how it went.

    Rules:
    - The delivery is claimed first (marked sending, in its own transaction): one already
      sent or skipped, or being sent by another run, is left alone, so a redelivered or
      swept job sends nothing twice while the first run is alive; pending and failed ones,
      and claims older than the sweep's threshold (a run that died), are (re)tried.
    - In-app: the live message is encoded once (`NotificationEncoder`) and published to
      the recipient's room, reaching every socket and stream they have open on any API
      process.
    - Email goes only to the account's address once it is verified; SMS only to a
      verified phone number; push to every browser subscription, forgetting those the push
      service says are gone. A channel with nowhere to go is recorded as skipped.
    - Email and SMS count against the recipient's hourly cap (`RecipientCaps`; security
      kinds against the higher one). One over the cap is recorded as skipped, with why,
      and not retried.
    - A failure is recorded (with its reason) in its own transaction and then raised, so
      the queue retries the job; the notification itself is never touched by a failure.
    - A message handed to its channel is not sent again because its outcome could not be
      recorded: through a database outage the run keeps trying to record it, and stops
      before its claim could go stale (`DeliveryOutcomes`), so while it tries neither the
      sweep nor a redelivered job may send the delivery. Only an outage longer than half
      of the stale time, a send slower than the stale time, or a process that dies between
      the send and the record can repeat a message.
    - An expired push subscription that cannot be forgotten (the database is away) is
      forgotten at a later push, rather than failing a push other browsers already got.
    - Each recorded outcome is counted by channel (`DeliveryMetrics`).
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        notifications: NotificationRepository,
        deliveries: DeliveryLog,
        users: UserRepository,
        phones: PhoneVerificationRepository,
        push_subscriptions: PushSubscriptionRepository,
        broadcaster: RealtimeBroadcaster,
        encoder: NotificationEncoder,
        renderer: TemplateRenderer,
        mailer: Mailer,
        sms: SmsSender,
        push: PushSender,
        links: NotificationLinks,
        sweep: DeliverySweepPolicy,
        clock: Clock,
        caps: RecipientCaps,
        metrics: DeliveryMetrics,
    ) -> None:
        self._uow = uow
        self._notifications = notifications
        self._deliveries = deliveries
        self._users = users
        self._phones = phones
        self._push_subscriptions = push_subscriptions
        self._broadcaster = broadcaster
        self._encoder = encoder
        self._renderer = renderer
        self._mailer = mailer
        self._sms = sms
        self._push = push
        self._links = links
        self._sweep = sweep
        self._clock = clock
        self._caps = caps
        self._metrics = metrics
        self._outcomes = DeliveryOutcomes(uow=uow, deliveries=deliveries, clock=clock, policy=sweep)

    async def __call__(self, command: DeliverNotificationCommand) -> DeliveryStatus | None:
        """Deliver; the status recorded, or None when there was nothing to do."""
        notification = await self._notifications.get(command.notification_id)
        if notification is None:
            return None
        claimed_at = self._clock.now()
        async with self._uow:
            claimed = await self._deliveries.claim(
                notification.id,
                command.channel,
                now=claimed_at,
                stale_before=claimed_at - self._sweep.stale_after,
            )
            await self._uow.commit()
        if not claimed:
            return None
        record = partial(
            self._outcomes.record, notification.id, command.channel, claimed_at=claimed_at
        )
        try:
            await self._deliver(notification, command.channel)
        except Undeliverable as reason:
            await record(DeliveryStatus.SKIPPED, detail=str(reason))
            self._counted(command.channel, DeliveryStatus.SKIPPED)
            return DeliveryStatus.SKIPPED
        except Exception as exc:
            await record(DeliveryStatus.FAILED, detail=repr(exc))
            self._counted(command.channel, DeliveryStatus.FAILED)
            raise
        await record(DeliveryStatus.SENT, detail=None)
        self._counted(command.channel, DeliveryStatus.SENT)
        return DeliveryStatus.SENT

    def _counted(self, channel: Channel, status: DeliveryStatus) -> None:
        self._metrics.delivery_recorded(channel=channel.value, outcome=status.value)

    async def _deliver(self, notification: Notification, channel: Channel) -> None:
        if channel is Channel.IN_APP:
            await self._publish_live(notification)
        elif channel is Channel.EMAIL:
            await self._send_email(notification)
        elif channel is Channel.SMS:
            await self._send_sms(notification)
        else:
            await self._send_push(notification)

    async def _publish_live(self, notification: Notification) -> None:
        payload = self._encoder.new_notification(notification)
        room = user_room(notification.recipient_id)
        await self._broadcaster.publish(RoomMessage(room=room, payload=payload))

    async def _recipient(self, notification: Notification) -> User:
        recipient = await self._users.get(notification.recipient_id)
        if recipient is None:
            raise Undeliverable("the recipient's account is gone")
        return recipient

    async def _context(
        self, notification: Notification, recipient: User | None = None
    ) -> dict[str, str]:
        recipient = recipient or await self._recipient(notification)
        return {
            **notification.data,
            "app_name": self._links.app_name,
            "recipient_username": str(recipient.username),
            "recipient_email": str(recipient.email),
            "url": self._links.for_subject(notification.subject, notification.data),
            "preferences_url": self._links.preferences,
        }

    async def _send_email(self, notification: Notification) -> None:
        recipient = await self._recipient(notification)
        if recipient.email_verified_at is None:
            raise Undeliverable("email not verified")
        context = await self._context(notification, recipient)
        rendered = self._renderer.render_email(f"notification_{notification.kind}", context)
        message = EmailMessage(
            to=context["recipient_email"],
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
        )
        await self._capped(
            notification, Channel.EMAIL, message.to, partial(self._mailer.send, message)
        )

    async def _send_sms(self, notification: Notification) -> None:
        phone = await self._phones.get(notification.recipient_id)
        if phone is None or not phone.is_verified:
            raise Undeliverable("no verified phone number")
        context = await self._context(notification)
        body = self._renderer.render_text(f"sms/{notification.kind}", context)
        message = SmsMessage(to=phone.number.value, body=body)
        await self._capped(notification, Channel.SMS, message.to, partial(self._sms.send, message))

    async def _capped(
        self,
        notification: Notification,
        channel: Channel,
        recipient: str,
        send: Callable[[], Awaitable[None]],
    ) -> None:
        """Send if the recipient's cap allows it; a failed send gives its count back."""
        security = notification.kind in SECURITY_KINDS
        if not await self._caps.admit(channel, recipient, security=security):
            raise Undeliverable(f"over the hourly {channel.value} cap for this recipient")
        try:
            await send()
        except Exception:
            await self._caps.release(channel, recipient, security=security)
            raise

    async def _send_push(self, notification: Notification) -> None:
        subscriptions = await self._push_subscriptions.for_user(notification.recipient_id)
        if not subscriptions:
            raise Undeliverable("no push subscription")
        context = await self._context(notification)
        payload = {
            "id": str(notification.id),
            "kind": notification.kind.value,
            "title": self._renderer.render_text(f"push/{notification.kind}.title", context),
            "body": self._renderer.render_text(f"push/{notification.kind}.body", context),
            "url": context["url"],
        }
        message = PushMessage(
            payload=json.dumps(payload, ensure_ascii=False).encode(),
            ttl_seconds=PUSH_TTL_SECONDS,
            topic=notification.kind.value.replace("_", "-"),
        )
        delivered = 0
        for subscription in subscriptions:
            try:
                outcome = await self._push.send(subscription, message)
            except PushRejectedError as exc:
                _log.warning("a push service refused a notification for good: %s", exc)
                continue
            if outcome is PushOutcome.GONE:
                await self._forget(subscription.endpoint, notification)
            else:
                delivered += 1
        if not delivered:
            raise Undeliverable("no push subscription took the message")

    async def _forget(self, endpoint: str, notification: Notification) -> None:
        """Forget an expired subscription; with the database away, at a later push instead."""
        try:
            async with self._uow:
                await self._push_subscriptions.remove_endpoint(endpoint)
                await self._uow.commit()
        except DependencyUnavailableError as exc:
            _log.warning(
                "an expired push subscription of user %s is kept until the next push (%s)",
                notification.recipient_id,
                type(exc).__name__,
            )
            return
        _log.info("forgot an expired push subscription of user %s", notification.recipient_id)
