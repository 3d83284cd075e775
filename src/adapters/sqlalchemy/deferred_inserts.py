"""Inserts held back to the commit, where they go out with the outbox rows as one statement.

A transaction that only inserts rows nothing in it reads back (a sign-in: its session and
the event that records it) would otherwise cost four round trips: BEGIN, each INSERT,
COMMIT. Here its rows are sent at commit as one statement, the later inserts as
data-modifying CTEs of the first, which PostgreSQL runs to completion and atomically. When
nothing else has run in the transaction yet, that statement runs on its own, in
autocommit: the whole unit of work is one round trip.

A unit of work opens a buffer for its connection (`start_deferring`); `insert_at_commit` adds
to it while one is open and inserts at once otherwise. A repository that defers an insert
calls `flush` before it reads or writes its table again, so it always sees its own rows.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import psycopg
import sqlalchemy as sa
from psycopg.pq import TransactionStatus
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.opentelemetry.sql import driver_statement
from adapters.sqlalchemy.connection_loss import note_commit_sent, translated_driver_failure
from adapters.sqlalchemy.precompiled import PrecompiledStatements, execute_on_driver

MAX_ROWS = 16
"""Above this many rows, they go out as one batch per table instead: each shape of the one
statement is compiled once and kept, so the number of shapes must stay small."""


@dataclass(frozen=True, slots=True)
class PendingInsert:
    """One row for one table; values are passed to psycopg as they are (wrap JSON)."""

    table: sa.Table
    row: Mapping[str, Any]


_BUFFERS: WeakKeyDictionary[AsyncConnection, list[PendingInsert]] = WeakKeyDictionary()


def start_deferring(connection: AsyncConnection) -> None:
    """Hold `insert_at_commit` rows on this connection until `take` or `stop_deferring`."""
    _BUFFERS[connection] = []


def stop_deferring(connection: AsyncConnection) -> None:
    """Insert at once again, dropping whatever was not taken."""
    _BUFFERS.pop(connection, None)


async def insert_at_commit(
    connection: AsyncConnection, table: sa.Table, row: Mapping[str, Any]
) -> None:
    """Defer the insert to the open unit of work's commit, or insert now if none is open."""
    pending = _BUFFERS.get(connection)
    if pending is None:
        await send(connection, [PendingInsert(table, row)], at_commit=False)
    else:
        pending.append(PendingInsert(table, row))


async def flush(connection: AsyncConnection) -> None:
    """Send the deferred inserts now, inside the transaction, so later reads see them."""
    pending = _BUFFERS.get(connection)
    if pending:
        await send(connection, take(connection), at_commit=False)


def take(connection: AsyncConnection) -> list[PendingInsert]:
    """Remove and return the deferred inserts."""
    pending = _BUFFERS.get(connection)
    if not pending:
        return []
    taken = list(pending)
    pending.clear()
    return taken


def discard(connection: AsyncConnection) -> None:
    """Forget the deferred inserts (the transaction rolls back)."""
    pending = _BUFFERS.get(connection)
    if pending:
        pending.clear()


async def send(
    connection: AsyncConnection, inserts: Sequence[PendingInsert], *, at_commit: bool
) -> None:
    """Insert the rows in one statement, in the connection's transaction.

    Rows for the same table and columns share one multi-row VALUES, in the order they
    were added, so identity columns (the outbox's position) follow that order; each other
    table is a data-modifying CTE (PostgreSQL leaves the order between those open).

    `at_commit` says the transaction commits right after. If no statement has run in it
    yet (PostgreSQL has not even seen its BEGIN), the rows are all it holds, and one
    statement in autocommit is exactly as atomic as BEGIN, the inserts and COMMIT; the
    `commit` that follows then has nothing to do.
    """
    if not inserts:
        return
    groups: dict[tuple[sa.Table, tuple[str, ...]], list[Mapping[str, Any]]] = {}
    for insert in inserts:
        groups.setdefault((insert.table, tuple(insert.row)), []).append(insert.row)
    if len(inserts) > MAX_ROWS:
        for (table, columns), rows in groups.items():
            await execute_on_driver(connection, _PLAIN.sql(table, columns), rows)
        return
    sql = _STATEMENTS.sql(
        *((table, columns, len(rows)) for (table, columns), rows in groups.items())
    )
    parameters = {
        f"p{part}_{number}_{name}": value
        for part, rows in enumerate(groups.values())
        for number, row in enumerate(rows)
        for name, value in row.items()
    }
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    # SQLAlchemy's lazy BEGIN under psycopg: tests/integration/test_reliances_storage.py
    alone = (
        at_commit
        and connection.in_transaction()
        and not driver.autocommit
        and driver.info.transaction_status == TransactionStatus.IDLE
    )
    if not alone:
        await execute_on_driver(connection, sql, parameters)
        return
    note_commit_sent(connection)
    try:
        await driver.set_autocommit(True)
        try:
            async with driver.cursor() as cursor:
                with driver_statement(sql, driver):
                    await cursor.execute(sql, parameters)
        finally:
            await driver.set_autocommit(False)
    except psycopg.Error as exc:
        raise await translated_driver_failure(connection, raw, exc) from exc


def _build_plain(table: sa.Table, columns: tuple[str, ...]) -> sa.Insert:
    return sa.insert(table).values({name: sa.bindparam(name) for name in columns})


def _build(*shape: tuple[sa.Table, tuple[str, ...], int]) -> sa.Insert:
    first, *rest = [
        sa.insert(table).values(
            [
                {name: sa.bindparam(f"p{part}_{number}_{name}") for name in columns}
                for number in range(rows)
            ]
        )
        for part, (table, columns, rows) in enumerate(shape)
    ]
    if not rest:
        return first
    return first.add_cte(*(insert.cte(f"p{part}") for part, insert in enumerate(rest, 1)))


_STATEMENTS = PrecompiledStatements(_build)
_PLAIN = PrecompiledStatements(_build_plain)
