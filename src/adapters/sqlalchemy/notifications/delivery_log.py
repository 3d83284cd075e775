"""The `DeliveryLog` port in PostgreSQL: one row per notification and channel."""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sqlalchemy.notifications.rows import known
from adapters.sqlalchemy.tables import notification_deliveries
from application.notifications.ports import (
    DELIVERY_DETAIL_MAX,
    DeliveryLog,
    DeliveryRecord,
    DeliveryStatus,
)
from domain.notifications.notification import Channel


def _delivery(row: sa.RowMapping) -> DeliveryRecord | None:
    channel = known(Channel, row["channel"])
    status = known(DeliveryStatus, row["status"])
    if channel is None or status is None:
        return None
    return DeliveryRecord(
        notification_id=row["notification_id"],
        channel=channel,
        status=status,
        attempts=row["attempts"],
        updated_at=row["updated_at"],
        detail=row["detail"],
    )


_PENDING_CHUNK = 4_000
"""Rows per insert: five parameters each, well under PostgreSQL's 65,535."""


class SqlDeliveryLog(DeliveryLog):
    """The `DeliveryLog` port: one row per notification and channel, upserted."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def get(self, notification_id: UUID, channel: Channel) -> DeliveryRecord | None:
        """The row for this notification and channel."""
        statement = sa.select(notification_deliveries).where(
            notification_deliveries.c.notification_id == notification_id,
            notification_deliveries.c.channel == channel.value,
        )
        row = (await self._connection.execute(statement)).mappings().first()
        return _delivery(row) if row else None

    async def record(
        self,
        notification_id: UUID,
        channel: Channel,
        status: DeliveryStatus,
        *,
        at: datetime,
        detail: str | None = None,
    ) -> None:
        """One upsert: the first try inserts attempt 1, later ones overwrite and add one.

        A detail longer than `DELIVERY_DETAIL_MAX` is cut to fit.
        """
        statement = pg_insert(notification_deliveries).values(
            notification_id=notification_id,
            channel=channel.value,
            status=status.value,
            attempts=1,
            detail=detail[:DELIVERY_DETAIL_MAX] if detail is not None else None,
            updated_at=at,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[
                notification_deliveries.c.notification_id,
                notification_deliveries.c.channel,
            ],
            set_={
                "status": statement.excluded.status,
                "attempts": notification_deliveries.c.attempts + 1,
                "detail": statement.excluded.detail,
                "updated_at": statement.excluded.updated_at,
            },
        )
        await self._connection.execute(statement)

    async def add_pending(
        self, deliveries: Sequence[tuple[UUID, Channel]], *, at: datetime
    ) -> None:
        """One insert per chunk; rows already there are left as they are."""
        rows = [
            {
                "notification_id": notification_id,
                "channel": channel.value,
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "updated_at": at,
            }
            for notification_id, channel in deliveries
        ]
        for start in range(0, len(rows), _PENDING_CHUNK):
            statement = (
                pg_insert(notification_deliveries)
                .values(rows[start : start + _PENDING_CHUNK])
                .on_conflict_do_nothing(
                    index_elements=[
                        notification_deliveries.c.notification_id,
                        notification_deliveries.c.channel,
                    ]
                )
            )
            await self._connection.execute(statement)

    async def claim(
        self, notification_id: UUID, channel: Channel, *, now: datetime, stale_before: datetime
    ) -> bool:
        """One upsert whose update only applies to a claimable row; a row back means claimed."""
        table = notification_deliveries
        statement = pg_insert(table).values(
            notification_id=notification_id,
            channel=channel.value,
            status=DeliveryStatus.SENDING.value,
            attempts=0,
            updated_at=now,
        )
        claiming = statement.on_conflict_do_update(
            index_elements=[table.c.notification_id, table.c.channel],
            set_={"status": DeliveryStatus.SENDING.value, "updated_at": now},
            where=sa.or_(
                table.c.status.in_([DeliveryStatus.PENDING.value, DeliveryStatus.FAILED.value]),
                sa.and_(
                    table.c.status == DeliveryStatus.SENDING.value,
                    table.c.updated_at < stale_before,
                ),
            ),
        ).returning(table.c.notification_id)
        return (await self._connection.execute(claiming)).first() is not None

    async def claim_stale_pending(
        self, *, older_than: datetime, now: datetime, limit: int
    ) -> Sequence[tuple[UUID, Channel]]:
        """UPDATE ... FROM (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING, in one statement."""
        table = notification_deliveries
        stale = (
            sa.select(table.c.notification_id, table.c.channel)
            .where(
                table.c.status.in_([DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value]),
                table.c.updated_at < older_than,
            )
            .order_by(table.c.updated_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .subquery()
        )
        statement = (
            sa.update(table)
            .where(
                table.c.notification_id == stale.c.notification_id,
                table.c.channel == stale.c.channel,
            )
            .values(status=DeliveryStatus.PENDING.value, updated_at=now)
            .returning(table.c.notification_id, table.c.channel)
        )
        rows = (await self._connection.execute(statement)).all()
        claimed = []
        for notification_id, channel_name in rows:
            channel = known(Channel, channel_name)
            if channel is not None:
                claimed.append((notification_id, channel))
        return claimed

    async def for_notification(self, notification_id: UUID) -> Sequence[DeliveryRecord]:
        """Every channel's row for the notification, by channel."""
        statement = (
            sa.select(notification_deliveries)
            .where(notification_deliveries.c.notification_id == notification_id)
            .order_by(notification_deliveries.c.channel)
        )
        rows = (await self._connection.execute(statement)).mappings()
        return [d for d in (_delivery(row) for row in rows) if d is not None]
