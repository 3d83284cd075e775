"""The in-memory outbox: what the unit of work wrote, and how its delivery goes."""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from adapters.memory.database import InMemoryDatabase
from application.common.outbox import OutboxMessage
from application.events.ports import ClaimedMessage, OutboxReader, OutboxStatus, OutboxStore

DELIVERIES = "outbox_deliveries"


@dataclass(frozen=True, slots=True)
class _Delivery:
    sent_at: datetime | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None


class InMemoryOutboxReader(OutboxReader):
    """The `OutboxReader` port over the in-memory database."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    async def pending(self, *, limit: int) -> Sequence[OutboxMessage]:
        """Return up to `limit` unsent messages in the order they were written."""
        deliveries: dict[UUID, _Delivery] = self._database.table(DELIVERIES)
        unsent = [
            message
            for message in self._database.outbox
            if deliveries.get(message.event_id, _Delivery()).sent_at is None
        ]
        return unsent[:limit]


class InMemoryOutboxStore(OutboxStore):
    """The `OutboxStore` port over the in-memory database.

    The memory unit of work serializes transactions, so a claim needs no lock; a rollback
    restores the delivery records with everything else.
    """

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    @property
    def _deliveries(self) -> dict[UUID, _Delivery]:
        return self._database.table(DELIVERIES)

    def _delivery(self, event_id: UUID) -> _Delivery:
        return self._deliveries.get(event_id, _Delivery())

    async def claim(self, *, limit: int, now: datetime) -> Sequence[ClaimedMessage]:
        """The oldest unsent messages that are due."""
        claimed: list[ClaimedMessage] = []
        for message in self._database.outbox:
            delivery = self._delivery(message.event_id)
            due = delivery.next_attempt_at is None or delivery.next_attempt_at <= now
            if delivery.sent_at is None and due:
                claimed.append(ClaimedMessage(message=message, attempts=delivery.attempts))
                if len(claimed) == limit:
                    break
        return claimed

    async def mark_sent(self, event_ids: Sequence[UUID], *, at: datetime) -> None:
        """Record the delivery."""
        for event_id in event_ids:
            self._deliveries[event_id] = replace(self._delivery(event_id), sent_at=at)

    async def record_failure(
        self, event_ids: Sequence[UUID], *, error: str, retry_at: datetime
    ) -> None:
        """Count the failure and push the next attempt back."""
        for event_id in event_ids:
            delivery = self._delivery(event_id)
            self._deliveries[event_id] = replace(
                delivery, attempts=delivery.attempts + 1, next_attempt_at=retry_at, last_error=error
            )

    async def purge_sent(self, *, before: datetime) -> int:
        """Forget messages sent before `before`."""
        gone = {
            event_id
            for event_id, delivery in self._deliveries.items()
            if delivery.sent_at is not None and delivery.sent_at < before
        }
        self._database.outbox[:] = [m for m in self._database.outbox if m.event_id not in gone]
        for event_id in gone:
            del self._deliveries[event_id]
        return len(gone)

    async def replay(self, *, since: datetime) -> int:
        """Mark messages that occurred at or after `since` unsent and due."""
        count = 0
        for message in self._database.outbox:
            if message.event.occurred_at >= since:
                self._deliveries[message.event_id] = _Delivery()
                count += 1
        return count

    async def status(self) -> OutboxStatus:
        """Counts over the list."""
        unsent = [m for m in self._database.outbox if self._delivery(m.event_id).sent_at is None]
        failing = [m for m in unsent if self._delivery(m.event_id).attempts > 0]
        errors = [self._delivery(m.event_id).last_error for m in failing]
        return OutboxStatus(
            pending=len(unsent),
            failing=len(failing),
            oldest_pending_at=min((m.event.occurred_at for m in unsent), default=None),
            sent=len(self._database.outbox) - len(unsent),
            last_error=errors[-1] if errors else None,
        )
