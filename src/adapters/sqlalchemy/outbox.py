"""Writes domain events to the outbox table and reads them back."""

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
import sqlalchemy as sa
from psycopg.types.json import Jsonb
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.opentelemetry.propagation import current_traceparent
from adapters.sqlalchemy.deferred_inserts import PendingInsert, send
from adapters.sqlalchemy.tables import outbox
from application.common.outbox import OutboxMessage
from application.events.ports import ClaimedMessage, OutboxReader, OutboxStatus, OutboxStore
from domain.shared.events import DomainEvent, event_class_for

_EVENT_TYPES: dict[str, type[DomainEvent]] = {}
UNREADABLE_RETRY = timedelta(hours=1)
_log = logging.getLogger(__name__)


def to_row(message: OutboxMessage) -> dict[str, Any]:
    """Turn a message into the outbox row that stores it, in the trace being written in."""
    event = message.event
    return {
        "event_id": message.event_id,
        "event_type": event.event_type,
        "aggregate_type": event.aggregate_type,
        "aggregate_id": event.aggregate_id,
        "occurred_at": event.occurred_at,
        "payload": msgspec.to_builtins(event),
        "request_id": message.request_id,
        "traceparent": message.traceparent or current_traceparent(),
    }


def from_row(row: sa.RowMapping) -> OutboxMessage:
    """Rebuild the message, and its typed event, from an outbox row."""
    event_type: str = row["event_type"]
    cls = _EVENT_TYPES.get(event_type) or event_class_for(event_type)
    if cls is None:
        raise LookupError(f"no DomainEvent subclass has event_type {event_type!r}")
    _EVENT_TYPES[event_type] = cls
    event = msgspec.convert(row["payload"], cls, strict=False)
    return OutboxMessage(
        event_id=row["event_id"],
        event=event,
        request_id=row["request_id"],
        traceparent=row["traceparent"],
    )


async def write_messages(connection: AsyncConnection, messages: Sequence[OutboxMessage]) -> None:
    """Insert the messages now, in order, inside the caller's transaction."""
    await send(connection, outbox_inserts(messages), at_commit=False)


def outbox_inserts(messages: Sequence[OutboxMessage]) -> list[PendingInsert]:
    """The messages' rows, for `deferred_inserts.send`, payloads encoded by msgspec."""
    return [PendingInsert(outbox, _for_driver(to_row(message))) for message in messages]


def _for_driver(row: dict[str, Any]) -> dict[str, Any]:
    row["payload"] = Jsonb(row["payload"], dumps=msgspec.json.encode)
    return row


class SqlOutboxReader(OutboxReader):
    """The `OutboxReader` port over PostgreSQL."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def pending(self, *, limit: int) -> Sequence[OutboxMessage]:
        """Return up to `limit` unsent messages in the order they were written."""
        statement = (
            sa.select(outbox)
            .where(outbox.c.sent_at.is_(None))
            .order_by(outbox.c.position)
            .limit(limit)
        )
        result = await self._connection.execute(statement)
        return [from_row(row) for row in result.mappings()]


class SqlOutboxStore(OutboxStore):
    """The `OutboxStore` port over PostgreSQL, on the unit of work's connection.

    `claim` is ``SELECT ... FOR UPDATE SKIP LOCKED`` over the partial index of unsent rows,
    so concurrent relays divide the backlog between them instead of queueing on it. A row
    this version cannot read (an event type it does not know, written by a newer version
    or a removed feature) is not returned: it records the failure and waits an hour, so it
    never blocks the rows behind it and is never dropped.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def claim(self, *, limit: int, now: datetime) -> Sequence[ClaimedMessage]:
        """Lock and return the oldest due unsent rows."""
        statement = (
            sa.select(outbox)
            .where(
                outbox.c.sent_at.is_(None),
                sa.or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= now),
            )
            .order_by(outbox.c.position)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = (await self._connection.execute(statement)).mappings().all()
        claimed: list[ClaimedMessage] = []
        unreadable: dict[UUID, str] = {}
        for row in rows:
            try:
                claimed.append(ClaimedMessage(message=from_row(row), attempts=row["attempts"]))
            except (LookupError, msgspec.ValidationError) as exc:
                unreadable[row["event_id"]] = f"cannot decode: {exc}"[:500]
        for event_id, error in unreadable.items():
            _log.error("outbox row %s is unreadable by this version (%s); parked", event_id, error)
            await self.record_failure([event_id], error=error, retry_at=now + UNREADABLE_RETRY)
        return claimed

    async def mark_sent(self, event_ids: Sequence[UUID], *, at: datetime) -> None:
        """Set `sent_at` on the rows."""
        await self._connection.execute(
            sa.update(outbox)
            .where(outbox.c.event_id.in_(event_ids))
            .values(sent_at=at, next_attempt_at=None)
        )

    async def record_failure(
        self, event_ids: Sequence[UUID], *, error: str, retry_at: datetime
    ) -> None:
        """Count the attempt, keep the error, and push the next attempt back."""
        await self._connection.execute(
            sa.update(outbox)
            .where(outbox.c.event_id.in_(event_ids))
            .values(attempts=outbox.c.attempts + 1, next_attempt_at=retry_at, last_error=error)
        )

    async def purge_sent(self, *, before: datetime) -> int:
        """Delete rows sent before `before` (served by the partial index on sent rows)."""
        result = await self._connection.execute(
            sa.delete(outbox)
            .where(outbox.c.sent_at.is_not(None), outbox.c.sent_at < before)
            .returning(outbox.c.event_id)
        )
        return len(result.all())

    async def replay(self, *, since: datetime) -> int:
        """Mark rows that occurred at or after `since` unsent, due now, with no failures."""
        result = await self._connection.execute(
            sa.update(outbox)
            .where(outbox.c.occurred_at >= since)
            .values(sent_at=None, attempts=0, next_attempt_at=None, last_error=None)
            .returning(outbox.c.event_id)
        )
        return len(result.all())

    async def status(self) -> OutboxStatus:
        """One aggregate query over the table."""
        unsent = outbox.c.sent_at.is_(None)
        statement = sa.select(
            sa.func.count().filter(unsent),
            sa.func.count().filter(unsent, outbox.c.attempts > 0),
            sa.func.min(outbox.c.occurred_at).filter(unsent),
            sa.func.count().filter(outbox.c.sent_at.is_not(None)),
        )
        pending, failing, oldest, sent = (await self._connection.execute(statement)).one()
        last_error = await self._connection.scalar(
            sa.select(outbox.c.last_error)
            .where(unsent, outbox.c.last_error.is_not(None))
            .order_by(outbox.c.position.desc())
            .limit(1)
        )
        return OutboxStatus(
            pending=pending,
            failing=failing,
            oldest_pending_at=oldest,
            sent=sent,
            last_error=last_error,
        )
