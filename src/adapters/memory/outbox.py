"""Reads the in-memory outbox."""

from collections.abc import Sequence

from adapters.memory.database import InMemoryDatabase
from application.common.outbox import OutboxMessage


class InMemoryOutboxReader:
    """The `OutboxReader` port over the in-memory database.

    Nothing relays the memory outbox yet, so every message in it is pending.
    """

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    async def pending(self, *, limit: int) -> Sequence[OutboxMessage]:
        """Return up to `limit` messages in the order they were written."""
        return list(self._database.outbox[:limit])
