"""Statements compiled once and run as driver SQL, for the hottest paths.

Building a Core statement, computing its cache key and looking up its compiled form costs
more Python than the query costs PostgreSQL on a small page. A statement that runs on most
requests, or on every sign-in, is therefore declared once with Core (so it stays checked
against the table definitions), compiled once for psycopg, and executed with
`exec_driver_sql` or, hotter still, on the psycopg connection itself. Its parameters are
`bindparam`s, passed by name.
"""

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.opentelemetry.sql import driver_statement
from adapters.sqlalchemy.connection_loss import translated_driver_failure

# A standalone dialect compiles psycopg's pyformat: tests/*/test_reliances_storage.py
_DIALECT = PGDialect_psycopg()  # type: ignore[no-untyped-call]


class PrecompiledStatements:
    """Compiles each variant of a statement the first time it is asked for, then reuses it.

    `build` receives the variant key and returns the Core statement for it; the variants
    of one statement differ in which optional filters are present.
    """

    def __init__(self, build: Callable[..., sa.ClauseElement]) -> None:
        self._build = build
        self._compiled: dict[Hashable, str] = {}

    def sql(self, *variant: Hashable) -> str:
        """The SQL text for this variant, compiled on first use."""
        sql = self._compiled.get(variant)
        if sql is None:
            sql = self._compiled[variant] = str(self._build(*variant).compile(dialect=_DIALECT))
        return sql


async def fetch_all(
    connection: AsyncConnection, sql: str, parameters: Mapping[str, Any]
) -> Sequence[Sequence[Any]]:
    """Run precompiled SQL on the request's connection and return every row as a tuple.

    It goes through SQLAlchemy's driver-SQL path, so it takes part in the connection's
    transaction and its events (statement counting, logging) still see it; psycopg
    prepares it server-side after a few runs.
    """
    result = await connection.exec_driver_sql(sql, dict(parameters))
    return result.all()


async def fetch_all_on_driver(
    connection: AsyncConnection, sql: str, parameters: Mapping[str, Any]
) -> Sequence[Sequence[Any]]:
    """Like `fetch_all`, straight on the psycopg connection under SQLAlchemy's.

    It takes part in the same transaction, but SQLAlchemy's events and echo do not see
    it: kept for the reads that run on every authenticated request (the session check) or
    every sign-in (the user lookups), where SQLAlchemy's execution context costs as much
    as the query. A dead connection is handled as SQLAlchemy's own failures are
    (`adapters.sqlalchemy.connection_loss`); tracing sees it (`driver_statement`).
    """
    raw = await connection.get_raw_connection()
    try:
        async with raw.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
            with driver_statement(sql, raw.driver_connection):
                await cursor.execute(sql, parameters)
            rows: Sequence[Sequence[Any]] = await cursor.fetchall()
            return rows
    except psycopg.Error as exc:
        raise await translated_driver_failure(connection, raw, exc) from exc


async def execute_on_driver(
    connection: AsyncConnection,
    sql: str,
    parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]],
) -> None:
    """Run a precompiled write on the psycopg connection, in the caller's transaction.

    Several parameter sets go out as one batch (psycopg pipelines `executemany`). Values
    are passed to psycopg as they are, so a JSON column needs its value wrapped
    (`psycopg.types.json.Jsonb`); SQLAlchemy's bind processors do not run here, and
    neither do its events and echo. Used for the writes that every sign-in makes, where
    SQLAlchemy's execution context cost more Python than the statement.

    Like SQLAlchemy's own execution, it begins a transaction on the connection when none
    is open, so a write after a commit is committed by the next `commit` instead of being
    left in a transaction SQLAlchemy does not know about.
    """
    raw = await connection.get_raw_connection()
    if not connection.in_transaction():
        await connection.begin()
    try:
        async with raw.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
            with driver_statement(sql, raw.driver_connection):
                if isinstance(parameters, Mapping):
                    await cursor.execute(sql, parameters)
                else:
                    await cursor.executemany(sql, parameters)
    except psycopg.Error as exc:
        raise await translated_driver_failure(connection, raw, exc) from exc
