"""Writes domain events to the outbox table and reads them back."""

from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sqlalchemy.tables import outbox
from application.common.outbox import OutboxMessage
from domain.shared.events import DomainEvent

_EVENT_TYPES: dict[str, type[DomainEvent]] = {}


def _registry() -> dict[str, type[DomainEvent]]:
    """Map every known `event_type` to its class, looking again when a new one appears."""
    stack: list[type[DomainEvent]] = [DomainEvent]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        event_type = getattr(cls, "event_type", None)
        if isinstance(event_type, str):
            _EVENT_TYPES.setdefault(event_type, cls)
    return _EVENT_TYPES


def to_row(message: OutboxMessage) -> dict[str, Any]:
    """Turn a message into the outbox row that stores it."""
    event = message.event
    return {
        "event_id": message.event_id,
        "event_type": event.event_type,
        "aggregate_type": event.aggregate_type,
        "aggregate_id": event.aggregate_id,
        "occurred_at": event.occurred_at,
        "payload": msgspec.to_builtins(event),
        "request_id": message.request_id,
    }


def from_row(row: sa.RowMapping) -> OutboxMessage:
    """Rebuild the message, and its typed event, from an outbox row."""
    event_type: str = row["event_type"]
    cls = _EVENT_TYPES.get(event_type) or _registry().get(event_type)
    if cls is None:
        raise LookupError(f"no DomainEvent subclass has event_type {event_type!r}")
    event = msgspec.convert(row["payload"], cls, strict=False)
    return OutboxMessage(event_id=row["event_id"], event=event, request_id=row["request_id"])


async def write_messages(connection: AsyncConnection, messages: Sequence[OutboxMessage]) -> None:
    """Insert the messages in one statement, inside the caller's transaction."""
    if messages:
        await connection.execute(sa.insert(outbox), [to_row(m) for m in messages])


class SqlOutboxReader:
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
