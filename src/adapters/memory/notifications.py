"""Notifications, preferences, deliveries, push subscriptions and phones in memory.

Rows are kept as copies in plain, deep-copyable values (the unit of work snapshots the
tables with `copy.deepcopy`), and handed out as fresh copies, like a database's rows.
"""

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType
from uuid import UUID

from adapters.memory.database import InMemoryDatabase
from adapters.memory.users import FOLLOWS
from application.ports.notifications import (
    DELIVERY_DETAIL_MAX,
    DeliveryRecord,
    DeliveryStatus,
    NotificationPage,
)
from domain.notifications.notification import Channel, Notification, NotificationKind
from domain.notifications.phone import PhoneVerification
from domain.notifications.preferences import NotificationPreferences
from domain.notifications.push import PushSubscription
from domain.users.values import UserId

NOTIFICATIONS = "notifications"
NOTIFICATION_PREFERENCES = "notification_preferences"
NOTIFICATION_DELIVERIES = "notification_deliveries"
PUSH_SUBSCRIPTIONS = "push_subscriptions"
PHONE_NUMBERS = "phone_numbers"


def _stored(notification: Notification) -> Notification:
    return dataclasses.replace(notification, data=dict(notification.data))


def _loaded(notification: Notification) -> Notification:
    return dataclasses.replace(notification, data=MappingProxyType(dict(notification.data)))


def _newest_first(notification: Notification) -> tuple[datetime, UUID]:
    return notification.created_at, notification.id


class InMemoryNotificationRepository:
    """The `NotificationRepository` port over the in-memory database."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    @property
    def _rows(self) -> dict[UUID, Notification]:
        return self._database.table(NOTIFICATIONS)

    async def add_new(self, notifications: Sequence[Notification]) -> Sequence[Notification]:
        """Store those whose recipient and source are new, the first of any repeats."""
        taken = {(n.recipient_id, n.source) for n in self._rows.values()}
        added: list[Notification] = []
        for notification in notifications:
            key = (notification.recipient_id, notification.source)
            if key in taken:
                continue
            taken.add(key)
            self._rows[notification.id] = _stored(notification)
            added.append(notification)
        return added

    async def get(self, notification_id: UUID) -> Notification | None:
        """A copy of the notification, whoever it is for."""
        row = self._rows.get(notification_id)
        return _loaded(row) if row else None

    async def for_source(self, source: str) -> Sequence[Notification]:
        """Copies of the source's notifications, by recipient id."""
        found = [n for n in self._rows.values() if n.source == source]
        found.sort(key=lambda n: n.recipient_id.value)
        return [_loaded(n) for n in found]

    async def recipients_told_since(
        self,
        kind: NotificationKind,
        actor: UserId,
        recipients: Sequence[UserId],
        *,
        since: datetime,
    ) -> frozenset[UserId]:
        """The recipients among those given with such a notification since `since`."""
        wanted = set(recipients)
        return frozenset(
            n.recipient_id
            for n in self._rows.values()
            if n.kind is kind
            and n.actor_id == actor
            and n.recipient_id in wanted
            and n.created_at >= since
        )

    async def mark_read(
        self, recipient: UserId, notification_ids: Sequence[UUID], *, at: datetime
    ) -> Sequence[Notification]:
        """Mark the recipient's among the ids read; copies, in the order of the ids, once each.

        A notification already read keeps the time it was first read.
        """
        marked: list[Notification] = []
        for notification_id in dict.fromkeys(notification_ids):
            row = self._rows.get(notification_id)
            if row is None or row.recipient_id != recipient:
                continue
            row.mark_read(at=at)
            marked.append(_loaded(row))
        return marked

    async def mark_all_read(self, recipient: UserId, *, at: datetime) -> int:
        """Mark the recipient's unread in-app notifications read; return how many."""
        return sum(1 for n in self._listed(recipient, unread_only=True) if n.mark_read(at=at))

    async def list_for(
        self, recipient: UserId, *, unread_only: bool, limit: int, offset: int
    ) -> NotificationPage:
        """Filter, order newest first with ties by id, and slice."""
        found = self._listed(recipient, unread_only=unread_only)
        found.sort(key=_newest_first, reverse=True)
        return NotificationPage(
            items=[_loaded(n) for n in found[offset : offset + limit]], total=len(found)
        )

    async def unread_count(self, recipient: UserId) -> int:
        """How many in-app notifications of the recipient are unread."""
        return len(self._listed(recipient, unread_only=True))

    async def purge_created_before(self, cutoff: datetime, *, limit: int) -> int:
        """Delete the oldest up to `limit` created before `cutoff`, and their deliveries."""
        doomed = sorted(
            (row for row in self._rows.values() if row.created_at < cutoff),
            key=lambda row: (row.created_at, row.id),
        )[:limit]
        ids = {row.id for row in doomed}
        for notification_id in ids:
            del self._rows[notification_id]
        deliveries = self._database.table(NOTIFICATION_DELIVERIES)
        for key in [key for key in deliveries if key[0] in ids]:
            del deliveries[key]
        return len(ids)

    def _listed(self, recipient: UserId, *, unread_only: bool) -> list[Notification]:
        return [
            n
            for n in self._rows.values()
            if n.recipient_id == recipient and n.in_app and not (unread_only and n.is_read)
        ]


class InMemoryNotificationPreferencesRepository:
    """The `NotificationPreferencesRepository` port: only the kinds each user chose."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    @property
    def _rows(self) -> dict[UserId, dict[NotificationKind, frozenset[Channel]]]:
        return self._database.table(NOTIFICATION_PREFERENCES)

    async def get(
        self,
        user_id: UserId,
        *,
        for_update: bool = False,  # noqa: ARG002 - the unit of work already serializes
    ) -> NotificationPreferences:
        """The stored choices, or the defaults."""
        return NotificationPreferences(MappingProxyType(dict(self._rows.get(user_id, {}))))

    async def get_many(
        self, user_ids: Sequence[UserId]
    ) -> Mapping[UserId, NotificationPreferences]:
        """Each user's preferences; the defaults for those who never chose."""
        return {user_id: await self.get(user_id) for user_id in user_ids}

    async def save(self, user_id: UserId, preferences: NotificationPreferences) -> None:
        """Replace the user's choices."""
        self._rows[user_id] = dict(preferences.chosen)


_CLAIMABLE = frozenset({DeliveryStatus.PENDING, DeliveryStatus.FAILED})
_UNFINISHED = frozenset({DeliveryStatus.PENDING, DeliveryStatus.SENDING})


class InMemoryDeliveryLog:
    """The `DeliveryLog` port: one record per notification and channel."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    @property
    def _rows(self) -> dict[tuple[UUID, Channel], DeliveryRecord]:
        return self._database.table(NOTIFICATION_DELIVERIES)

    async def get(self, notification_id: UUID, channel: Channel) -> DeliveryRecord | None:
        """The record for this notification and channel."""
        return self._rows.get((notification_id, channel))

    async def add_pending(
        self, deliveries: Sequence[tuple[UUID, Channel]], *, at: datetime
    ) -> None:
        """A pending record, with no attempt, for each delivery not yet recorded."""
        for notification_id, channel in deliveries:
            self._rows.setdefault(
                (notification_id, channel),
                DeliveryRecord(
                    notification_id=notification_id,
                    channel=channel,
                    status=DeliveryStatus.PENDING,
                    attempts=0,
                    updated_at=at,
                ),
            )

    async def claim(
        self, notification_id: UUID, channel: Channel, *, now: datetime, stale_before: datetime
    ) -> bool:
        """Mark it sending unless it is done, or freshly claimed by another run."""
        record = self._rows.get((notification_id, channel))
        if record is None:
            record = DeliveryRecord(
                notification_id=notification_id,
                channel=channel,
                status=DeliveryStatus.SENDING,
                attempts=0,
                updated_at=now,
            )
        elif record.status in _CLAIMABLE or (
            record.status is DeliveryStatus.SENDING and record.updated_at < stale_before
        ):
            record = replace(record, status=DeliveryStatus.SENDING, updated_at=now)
        else:
            return False
        self._rows[notification_id, channel] = record
        return True

    async def claim_stale_pending(
        self, *, older_than: datetime, now: datetime, limit: int
    ) -> Sequence[tuple[UUID, Channel]]:
        """The oldest stale pending or sending records, set back to pending at `now`."""
        stale = sorted(
            (
                record
                for record in self._rows.values()
                if record.status in _UNFINISHED and record.updated_at < older_than
            ),
            key=lambda record: record.updated_at,
        )[:limit]
        for record in stale:
            self._rows[record.notification_id, record.channel] = replace(
                record, status=DeliveryStatus.PENDING, updated_at=now
            )
        return [(record.notification_id, record.channel) for record in stale]

    async def record(
        self,
        notification_id: UUID,
        channel: Channel,
        status: DeliveryStatus,
        *,
        at: datetime,
        detail: str | None = None,
    ) -> None:
        """Replace the record, one attempt more than before; a long detail is cut."""
        earlier = self._rows.get((notification_id, channel))
        self._rows[notification_id, channel] = DeliveryRecord(
            notification_id=notification_id,
            channel=channel,
            status=status,
            attempts=earlier.attempts + 1 if earlier else 1,
            updated_at=at,
            detail=detail[:DELIVERY_DETAIL_MAX] if detail is not None else None,
        )

    async def for_notification(self, notification_id: UUID) -> Sequence[DeliveryRecord]:
        """Every channel's record for the notification, by channel."""
        found = [r for (n, _), r in self._rows.items() if n == notification_id]
        return sorted(found, key=lambda r: r.channel.value)


class InMemoryPushSubscriptionRepository:
    """The `PushSubscriptionRepository` port, keyed by endpoint."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    @property
    def _rows(self) -> dict[str, PushSubscription]:
        return self._database.table(PUSH_SUBSCRIPTIONS)

    async def add(self, subscription: PushSubscription) -> None:
        """Store it, replacing whatever was at its endpoint."""
        self._rows[subscription.endpoint] = subscription

    async def remove(self, user_id: UserId, endpoint: str) -> bool:
        """Forget the endpoint if it is the user's; False otherwise."""
        row = self._rows.get(endpoint)
        if row is None or row.user_id != user_id:
            return False
        del self._rows[endpoint]
        return True

    async def remove_endpoint(self, endpoint: str) -> None:
        """Forget the endpoint, whoever's it is."""
        self._rows.pop(endpoint, None)

    async def for_user(self, user_id: UserId) -> Sequence[PushSubscription]:
        """The user's subscriptions, oldest first, ties by endpoint."""
        found = [s for s in self._rows.values() if s.user_id == user_id]
        return sorted(found, key=lambda s: (s.created_at, s.endpoint))


class InMemoryPhoneVerificationRepository:
    """The `PhoneVerificationRepository` port: one copy per user."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    @property
    def _rows(self) -> dict[UserId, PhoneVerification]:
        return self._database.table(PHONE_NUMBERS)

    async def get(
        self,
        user_id: UserId,
        *,
        for_update: bool = False,  # noqa: ARG002 - the unit of work already serializes
    ) -> PhoneVerification | None:
        """A copy of the user's number and its state (the unit of work already serializes)."""
        row = self._rows.get(user_id)
        return copy.copy(row) if row else None

    async def save(self, verification: PhoneVerification) -> None:
        """Store a copy, replacing any earlier one."""
        self._rows[verification.user_id] = copy.copy(verification)

    async def remove(self, user_id: UserId) -> bool:
        """Forget the user's number; False if there was none."""
        return self._rows.pop(user_id, None) is not None


class InMemoryFollowerReader:
    """The `FollowerReader` port over the follows the memory user repository keeps."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    async def followers(
        self, followee: UserId, *, after: UserId | None, limit: int
    ) -> Sequence[UserId]:
        """Followers of `followee` with an id above `after`, by id, at most `limit`."""
        follows: dict[tuple[UserId, UserId], datetime] = self._database.table(FOLLOWS)
        found = sorted(
            (
                follower
                for follower, followed in follows
                if followed == followee and (after is None or follower.value > after.value)
            ),
            key=lambda user_id: user_id.value,
        )
        return found[:limit]
