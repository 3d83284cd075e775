"""The record of handled events in PostgreSQL."""

from datetime import datetime

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
