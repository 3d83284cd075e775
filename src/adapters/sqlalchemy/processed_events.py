"""The record of handled events in PostgreSQL."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sqlalchemy.tables import processed_events
from application.events.ports import ProcessedEvents


class SqlProcessedEvents(ProcessedEvents):
    """The `ProcessedEvents` port: an insert that does nothing when the row exists.

    Two workers racing on one event both try the insert; the second waits on the first's
    row lock and, once it commits, finds the row and skips the event.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def claim(self, consumer: str, event_id: str, *, at: datetime) -> bool:
        """Insert (consumer, event id); True when this call inserted it."""
        statement = (
            pg_insert(processed_events)
            .values(consumer=consumer, event_id=event_id, processed_at=at)
            .on_conflict_do_nothing()
            .returning(processed_events.c.event_id)
        )
        return (await self._connection.execute(statement)).first() is not None

    async def purge_older_than(self, cutoff: datetime, *, limit: int) -> int:
        """One DELETE of the oldest batch, found through the index on `processed_at`."""
        table = processed_events
        oldest = (
            sa.select(table.c.consumer, table.c.event_id)
            .where(table.c.processed_at < cutoff)
            .order_by(table.c.processed_at)
            .limit(limit)
        )
        statement = sa.delete(table).where(
            sa.tuple_(table.c.consumer, table.c.event_id).in_(oldest)
        )
        result = await self._connection.execute(statement)
        return int(result.rowcount or 0)
