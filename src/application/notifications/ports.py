"""Notifications ports: the stores behind notifications, and the means of delivering them.

The stores keep notifications, preferences, deliveries, push subscriptions and phone
numbers, and read who follows whom. Delivery encodes the live message, renders templates
and sends email, SMS and push; the host resolver vets push endpoints.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from domain.notifications.notification import Channel, Notification, NotificationKind
from domain.notifications.phone import PhoneVerification
from domain.notifications.preferences import NotificationPreferences
from domain.notifications.push import PushSubscription
from domain.notifications.push_endpoint import IPAddress
from domain.users.values import UserId


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationPage:
    """One page of a recipient's notifications, newest first, and how many match in all."""

    items: Sequence[Notification]
    total: int


class NotificationRepository(Protocol):
    """Notifications, inside the request's unit of work.

    Contract:
    - A recipient has at most one notification per `source`: `add_new` skips the others,
      whether they were stored earlier or appear twice in the same call.
    - Every method that takes a `recipient` only ever sees or changes that recipient's
      notifications, so ownership is enforced by the store, not only by its callers.
    - Lists and counts include only notifications with the in-app channel.
    """

    async def add_new(self, notifications: Sequence[Notification]) -> Sequence[Notification]:
        """Store those whose recipient and source are new; return the ones stored."""
        ...

    async def get(self, notification_id: UUID) -> Notification | None:
        """The notification with this id, whoever it is for (deliveries use this)."""
        ...

    async def for_source(self, source: str) -> Sequence[Notification]:
        """Every notification caused by `source`, by recipient id."""
        ...

    async def recipients_told_since(
        self,
        kind: NotificationKind,
        actor: UserId,
        recipients: Sequence[UserId],
        *,
        since: datetime,
    ) -> frozenset[UserId]:
        """Those of `recipients` that `actor` told of `kind` at or after `since`.

        Any notification counts, whatever its channels and whether it was read: these are
        the recipients a repeat would tell again.
        """
        ...

    async def mark_read(
        self, recipient: UserId, notification_ids: Sequence[UUID], *, at: datetime
    ) -> Sequence[Notification]:
        """Mark these of the recipient's notifications read; return the ones found.

        Ids that do not exist, or belong to someone else, are left out of the result.
        """
        ...

    async def mark_all_read(self, recipient: UserId, *, at: datetime) -> int:
        """Mark every unread notification of the recipient read; return how many were."""
        ...

    async def list_for(
        self, recipient: UserId, *, unread_only: bool, limit: int, offset: int
    ) -> NotificationPage:
        """The recipient's in-app notifications, newest first (ties by id)."""
        ...

    async def unread_count(self, recipient: UserId) -> int:
        """How many in-app notifications the recipient has not read."""
        ...

    async def purge_created_before(self, cutoff: datetime, *, limit: int) -> int:
        """Delete up to `limit` notifications created before `cutoff`, with their deliveries.

        Returns how many were deleted; fewer than `limit` means none older remain.
        """
        ...


class NotificationPreferencesRepository(Protocol):
    """Each user's channel choices; a user who never chose has the defaults."""

    async def get(self, user_id: UserId, *, for_update: bool = False) -> NotificationPreferences:
        """The user's preferences, or the defaults.

        `for_update` locks the stored choices until the transaction ends, so two changes to
        different kinds made at once both stick.
        """
        ...

    async def get_many(
        self, user_ids: Sequence[UserId]
    ) -> Mapping[UserId, NotificationPreferences]:
        """The preferences of each of these users (the defaults for those who never chose)."""
        ...

    async def save(self, user_id: UserId, preferences: NotificationPreferences) -> None:
        """Store the user's choices."""
        ...


class DeliveryStatus(StrEnum):
    """How delivering a notification on one channel went."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


DELIVERY_DETAIL_MAX = 500
"""The longest delivery detail a `DeliveryLog` keeps; a longer one is cut, not refused."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryRecord:
    """The latest outcome for one notification on one channel, and how many tries it took."""

    notification_id: UUID
    channel: Channel
    status: DeliveryStatus
    attempts: int
    updated_at: datetime
    detail: str | None = None


class DeliveryLog(Protocol):
    """What happened to each delivery; a failure is recorded, the notification stays.

    A delivery is recorded as pending in the transaction that creates its notification, so
    a process that dies before its job is enqueued leaves a durable trace for the sweep.
    """

    async def add_pending(
        self, deliveries: Sequence[tuple[UUID, Channel]], *, at: datetime
    ) -> None:
        """Record these deliveries as pending (no attempt yet); existing records stay."""
        ...

    async def claim(
        self, notification_id: UUID, channel: Channel, *, now: datetime, stale_before: datetime
    ) -> bool:
        """Mark the delivery as being sent by this run; False when another run may not.

        A delivery can be claimed when it has no record, is pending or failed, or was
        claimed before `stale_before` by a run that never finished. Sent and skipped ones
        cannot. Of concurrent callers, one wins.
        """
        ...

    async def claim_stale_pending(
        self, *, older_than: datetime, now: datetime, limit: int
    ) -> Sequence[tuple[UUID, Channel]]:
        """Up to `limit` deliveries pending, or being sent, since before `older_than`.

        They are set back to pending at `now`, so they are not claimed again before they
        are stale once more; concurrent callers claim disjoint sets. Oldest first.
        """
        ...

    async def get(self, notification_id: UUID, channel: Channel) -> DeliveryRecord | None:
        """The record for this notification and channel, if it has one."""
        ...

    async def record(
        self,
        notification_id: UUID,
        channel: Channel,
        status: DeliveryStatus,
        *,
        at: datetime,
        detail: str | None = None,
    ) -> None:
        """Store this outcome as the latest one, counting one more attempt.

        A `detail` longer than `DELIVERY_DETAIL_MAX` is cut to that length.
        """
        ...

    async def for_notification(self, notification_id: UUID) -> Sequence[DeliveryRecord]:
        """Every channel's record for the notification."""
        ...


class PushSubscriptionRepository(Protocol):
    """The Web Push subscriptions of each user's browsers."""

    async def add(self, subscription: PushSubscription) -> None:
        """Store it; an endpoint already stored is replaced (a browser subscribes anew)."""
        ...

    async def remove(self, user_id: UserId, endpoint: str) -> bool:
        """Forget the user's subscription at `endpoint`; False if they had none there."""
        ...

    async def remove_endpoint(self, endpoint: str) -> None:
        """Forget the subscription at `endpoint`, whoever it is for (it expired)."""
        ...

    async def for_user(self, user_id: UserId) -> Sequence[PushSubscription]:
        """Every subscription of the user, oldest first."""
        ...


class PhoneVerificationRepository(Protocol):
    """Each user's phone number and its verification."""

    async def get(self, user_id: UserId, *, for_update: bool = False) -> PhoneVerification | None:
        """The user's number, if they gave one.

        `for_update` locks it until the transaction ends, so concurrent checks of a code
        count every wrong attempt instead of each starting from the same count.
        """
        ...

    async def save(self, verification: PhoneVerification) -> None:
        """Store the user's number and its state, replacing any earlier one."""
        ...

    async def remove(self, user_id: UserId) -> bool:
        """Forget the user's number; False if they had none."""
        ...


class FollowerReader(Protocol):
    """Who follows a user, in pages, for fanning out notifications."""

    async def followers(
        self, followee: UserId, *, after: UserId | None, limit: int
    ) -> Sequence[UserId]:
        """Up to `limit` followers of `followee`, by id, after `after` (keyset paging)."""
        ...


class NotificationEncoder(Protocol):
    """Encodes the live messages about a notification, in the format its clients read.

    The format belongs to the edge that serves the clients; the core only says which
    message it sends. Each call encodes once: the payload is published to the recipient's
    room and forwarded unchanged to every socket and stream there.
    """

    def new_notification(self, notification: Notification) -> bytes:
        """The message announcing `notification` to its recipient's live connections."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderedEmail:
    """A subject with a plain-text and an HTML body."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailMessage:
    """One email to one recipient."""

    to: str
    subject: str
    text: str
    html: str


class TemplateRenderer(Protocol):
    """Renders a named email template; HTML is escaped, text is not."""

    def render_email(self, template: str, context: Mapping[str, str]) -> RenderedEmail:
        """Render the subject, text and HTML of `template` with `context`."""
        ...

    def render_text(self, template: str, context: Mapping[str, str]) -> str:
        """Render a plain-text template (an SMS, a push title or body), stripped."""
        ...


class Mailer(Protocol):
    """Sends email; raising means it was not accepted and may be retried."""

    async def send(self, message: EmailMessage) -> None:
        """Hand the message to the mail system."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SmsMessage:
    """One text message to one phone number (E.164, such as +14155550100)."""

    to: str
    body: str


class SmsSender(Protocol):
    """Sends text messages; raising means the gateway did not accept it, retry later."""

    async def send(self, message: SmsMessage) -> None:
        """Hand the message to the SMS gateway."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class PushMessage:
    """What a push carries (encrypted on the way), and how long the push service keeps it."""

    payload: bytes
    ttl_seconds: int
    urgency: str = "normal"
    topic: str | None = None


class PushOutcome(StrEnum):
    """What the push service said."""

    DELIVERED = "delivered"
    GONE = "gone"


class PushRejectedError(Exception):
    """The push service refused this message for good; sending it again fails again."""


class PushSender(Protocol):
    """Sends Web Push messages.

    Returns GONE when the push service says the subscription no longer exists, so the
    caller can forget it. Raises `PushRejectedError` when the service refuses
    the message for good, and any other exception for what is worth retrying.
    """

    async def send(self, subscription: PushSubscription, message: PushMessage) -> PushOutcome:
        """Encrypt the payload for the subscription's keys and post it to its endpoint."""
        ...


class HostNotResolvedError(Exception):
    """The name has no address now: it does not exist, or the resolver failed or was slow."""


class HostResolver(Protocol):
    """Finds the addresses a host name stands for."""

    async def addresses(self, host: str) -> frozenset[IPAddress]:
        """Every address `host` resolves to, never empty; else HostNotResolvedError."""
        ...
