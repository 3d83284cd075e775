"""The in-memory store that the memory repositories and unit of work share."""

import asyncio
from dataclasses import dataclass, field
from typing import Any

from application.common.outbox import OutboxMessage


@dataclass(slots=True)
class InMemoryDatabase:
    """Plain Python collections standing in for PostgreSQL.

    `tables` maps a table name to its rows keyed by primary key; the memory repositories of
    later features keep their rows there, so one snapshot covers everything. Transactions
    are serialized by `lock`: one unit of work at a time, which makes them trivially
    isolated.
    """

    tables: dict[str, dict[Any, Any]] = field(default_factory=dict)
    outbox: list[OutboxMessage] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def table(self, name: str) -> dict[Any, Any]:
        """Return the rows of a table, creating it when first used."""
        return self.tables.setdefault(name, {})
