"""The `NotificationRepository` port in memory: the notifications table."""

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from types import MappingProxyType
from uuid import UUID

from adapters.memory.database import InMemoryDatabase
from adapters.memory.notifications.delivery_log import NOTIFICATION_DELIVERIES
from application.notifications.ports import NotificationPage, NotificationRepository
from domain.notifications.notification import Notification, NotificationKind
from domain.users.values import UserId

NOTIFICATIONS = "notifications"


def _stored(notification: Notification) -> Notification:
    return dataclasses.replace(notification, data=dict(notification.data))


def _loaded(notification: Notification) -> Notification:
    return dataclasses.replace(notification, data=MappingProxyType(dict(notification.data)))


def _newest_first(notification: Notification) -> tuple[datetime, UUID]:
    return notification.created_at, notification.id


class InMemoryNotificationRepository(NotificationRepository):
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
