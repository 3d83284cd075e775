"""The record of handled events in the in-memory database."""

from datetime import datetime

from adapters.memory.database import InMemoryDatabase
from application.events.ports import ProcessedEvents

PROCESSED_EVENTS = "processed_events"


class InMemoryProcessedEvents(ProcessedEvents):
    """The `ProcessedEvents` port as a table keyed by (consumer, event id)."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    async def claim(self, consumer: str, event_id: str, *, at: datetime) -> bool:
        """Record the pair; False when it was there."""
        table: dict[tuple[str, str], datetime] = self._database.table(PROCESSED_EVENTS)
        if (consumer, event_id) in table:
            return False
        table[consumer, event_id] = at
        return True

    async def purge_older_than(self, cutoff: datetime, *, limit: int) -> int:
        """Delete the oldest up to `limit` records made before `cutoff`."""
        table: dict[tuple[str, str], datetime] = self._database.table(PROCESSED_EVENTS)
        doomed = sorted(
            (key for key, at in table.items() if at < cutoff), key=lambda key: (table[key], key)
        )[:limit]
        for key in doomed:
            del table[key]
        return len(doomed)
