"""The `DeliveryLog` port in memory: one record per notification and channel."""

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from adapters.memory.database import InMemoryDatabase
from application.notifications.ports import (
    DELIVERY_DETAIL_MAX,
    DeliveryLog,
    DeliveryRecord,
    DeliveryStatus,
)
from domain.notifications.notification import Channel

NOTIFICATION_DELIVERIES = "notification_deliveries"

_CLAIMABLE = frozenset({DeliveryStatus.PENDING, DeliveryStatus.FAILED})
_UNFINISHED = frozenset({DeliveryStatus.PENDING, DeliveryStatus.SENDING})


class InMemoryDeliveryLog(DeliveryLog):
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
