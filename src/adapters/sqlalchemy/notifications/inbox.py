"""The `NotificationRepository` port in PostgreSQL: the notifications table."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sqlalchemy.notifications.rows import known, known_channels
from adapters.sqlalchemy.tables import notifications as notifications_table
from application.notifications.ports import NotificationPage, NotificationRepository
from domain.notifications.notification import Notification, NotificationKind, Subject
from domain.users.values import UserId

INSERT_CHUNK = 4000
"""Rows per INSERT: PostgreSQL binds at most 65,535 parameters, and a row takes ten."""


def _notification_row(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.id,
        "recipient_id": notification.recipient_id.value,
        "kind": notification.kind.value,
        "actor_id": notification.actor_id.value if notification.actor_id else None,
        "subject_type": notification.subject.type,
        "subject_id": notification.subject.id,
        "source": notification.source,
        "channels": sorted(channel.value for channel in notification.channels),
        "data": dict(notification.data),
        "created_at": notification.created_at,
        "read_at": notification.read_at,
    }


def _notification(row: sa.RowMapping) -> Notification | None:
    kind = known(NotificationKind, row["kind"])
    channels = known_channels(row["channels"])
    if kind is None or not channels:
        return None
    return Notification(
        id=row["id"],
        recipient_id=UserId(row["recipient_id"]),
        kind=kind,
        actor_id=UserId(row["actor_id"]) if row["actor_id"] is not None else None,
        subject=Subject(type=row["subject_type"], id=row["subject_id"]),
        source=row["source"],
        channels=channels,
        created_at=row["created_at"],
        data=MappingProxyType({str(k): str(v) for k, v in row["data"].items()}),
        read_at=row["read_at"],
    )


def _notifications(rows: Iterable[sa.RowMapping]) -> list[Notification]:
    return [n for n in (_notification(row) for row in rows) if n is not None]


def _listed(recipient: UserId, *, unread_only: bool) -> list[sa.ColumnElement[bool]]:
    """The conditions of the recipient's list, written as the partial indexes' predicates."""
    conditions = [
        notifications_table.c.recipient_id == recipient.value,
        notifications_table.c.in_app,
    ]
    if unread_only:
        conditions.append(notifications_table.c.read_at.is_(None))
    return conditions


class SqlNotificationRepository(NotificationRepository):
    """The `NotificationRepository` port on PostgreSQL.

    Uniqueness per recipient and source is the table's unique constraint, so two workers
    storing the same event's notifications concurrently still store each one once. Every
    statement that takes a recipient filters on it; the in-app lists and counts are served
    by partial indexes on in-app rows (and on unread in-app rows).
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add_new(self, notifications: Sequence[Notification]) -> Sequence[Notification]:
        """One INSERT ... ON CONFLICT DO NOTHING RETURNING id for the batch.

        Repeats of a recipient and source within the batch are dropped first (the first one
        stays); what the insert returns says which of the rest were new. A batch beyond
        `INSERT_CHUNK` rows takes one statement per chunk.
        """
        unique: dict[tuple[UserId, str], Notification] = {}
        for notification in notifications:
            unique.setdefault((notification.recipient_id, notification.source), notification)
        batch = list(unique.values())
        stored: set[UUID] = set()
        for start in range(0, len(batch), INSERT_CHUNK):
            rows = [_notification_row(n) for n in batch[start : start + INSERT_CHUNK]]
            statement = (
                pg_insert(notifications_table)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["recipient_id", "source"])
                .returning(notifications_table.c.id)
            )
            stored.update((await self._connection.execute(statement)).scalars())
        return [n for n in batch if n.id in stored]

    async def get(self, notification_id: UUID) -> Notification | None:
        """Load by id, whoever it is for."""
        statement = sa.select(notifications_table).where(
            notifications_table.c.id == notification_id
        )
        row = (await self._connection.execute(statement)).mappings().first()
        return _notification(row) if row else None

    async def for_source(self, source: str) -> Sequence[Notification]:
        """Every notification of the source, by recipient id (the unique index's order)."""
        statement = (
            sa.select(notifications_table)
            .where(notifications_table.c.source == source)
            .order_by(notifications_table.c.recipient_id)
        )
        return _notifications((await self._connection.execute(statement)).mappings())

    async def recipients_told_since(
        self,
        kind: NotificationKind,
        actor: UserId,
        recipients: Sequence[UserId],
        *,
        since: datetime,
    ) -> frozenset[UserId]:
        """One SELECT DISTINCT over the actor's notifications (the actor_id index)."""
        if not recipients:
            return frozenset()
        table = notifications_table
        statement = (
            sa.select(table.c.recipient_id)
            .distinct()
            .where(
                table.c.actor_id == actor.value,
                table.c.kind == kind.value,
                table.c.recipient_id.in_([recipient.value for recipient in recipients]),
                table.c.created_at >= since,
            )
        )
        return frozenset(UserId(value) for value in await self._connection.scalars(statement))

    async def mark_read(
        self, recipient: UserId, notification_ids: Sequence[UUID], *, at: datetime
    ) -> Sequence[Notification]:
        """One UPDATE ... RETURNING on the recipient's rows among the ids.

        A notification already read keeps the time it was first read. The result follows
        the order of `notification_ids`, each id once.
        """
        wanted = list(dict.fromkeys(notification_ids))
        if not wanted:
            return []
        statement = (
            sa.update(notifications_table)
            .where(
                notifications_table.c.recipient_id == recipient.value,
                notifications_table.c.id.in_(wanted),
            )
            .values(read_at=sa.func.coalesce(notifications_table.c.read_at, at))
            .returning(*notifications_table.c)
        )
        found = {
            n.id: n for n in _notifications((await self._connection.execute(statement)).mappings())
        }
        return [found[i] for i in wanted if i in found]

    async def mark_all_read(self, recipient: UserId, *, at: datetime) -> int:
        """Mark the recipient's unread in-app notifications read; return how many.

        Only in-app ones: the others are in no list and no count, so the number returned is
        the unread count the recipient saw.
        """
        statement = (
            sa.update(notifications_table)
            .where(*_listed(recipient, unread_only=True))
            .values(read_at=at)
        )
        return (await self._connection.execute(statement)).rowcount

    async def list_for(
        self, recipient: UserId, *, unread_only: bool, limit: int, offset: int
    ) -> NotificationPage:
        """One statement: the count of every match outer-joined to the page.

        So a page past the end is still one row, carrying the total.
        """
        conditions = _listed(recipient, unread_only=unread_only)
        counted = (
            sa.select(sa.func.count().label("total"))
            .select_from(notifications_table)
            .where(*conditions)
            .subquery("counted")
        )
        page = (
            sa.select(notifications_table)
            .where(*conditions)
            .order_by(notifications_table.c.created_at.desc(), notifications_table.c.id.desc())
            .limit(limit)
            .offset(offset)
            .subquery("page")
        )
        statement = (
            sa.select(page, counted.c.total)
            .select_from(counted.outerjoin(page, sa.true()))
            .order_by(page.c.created_at.desc(), page.c.id.desc())
        )
        rows = (await self._connection.execute(statement)).mappings().all()
        return NotificationPage(
            items=_notifications(row for row in rows if row["id"] is not None),
            total=int(rows[0]["total"]),
        )

    async def unread_count(self, recipient: UserId) -> int:
        """Count the recipient's unread in-app notifications (the unread partial index)."""
        statement = (
            sa.select(sa.func.count())
            .select_from(notifications_table)
            .where(*_listed(recipient, unread_only=True))
        )
        return int(await self._connection.scalar(statement) or 0)

    async def purge_created_before(self, cutoff: datetime, *, limit: int) -> int:
        """One DELETE of the oldest batch; deliveries go with them (ON DELETE CASCADE)."""
        table = notifications_table
        oldest = (
            sa.select(table.c.id)
            .where(table.c.created_at < cutoff)
            .order_by(table.c.created_at)
            .limit(limit)
            .scalar_subquery()
        )
        result = await self._connection.execute(sa.delete(table).where(table.c.id.in_(oldest)))
        return int(result.rowcount or 0)
