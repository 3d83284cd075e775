"""The in-memory store that the memory repositories and unit of work share."""

import asyncio
import copy
from dataclasses import dataclass, field
from typing import Any, TypeVar

from application.common.outbox import OutboxMessage
from domain.shared.aggregate import AggregateRoot

_Aggregate = TypeVar("_Aggregate", bound=AggregateRoot)


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


def detached(aggregate: _Aggregate) -> _Aggregate:
    """A copy without pending events, as a row stored in or read back from a database is."""
    clone = copy.copy(aggregate)
    clone._pending_events = []  # noqa: SLF001 - a fresh aggregate has no pending events
    clone._changes = []  # noqa: SLF001 - nor changes waiting for the audit log
    return clone
