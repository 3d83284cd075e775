"""A database that is unreachable, or a connection that died, as the application's errors.

Three failures mean the server, not the request, is at fault, and each leaves as an
application error at this boundary, so no caller ever handles a driver exception for them:

- no connection can be opened (the server is down or restarting):
  `DependencyUnavailableError`;
- a connection died under a request that had committed nothing on it:
  `ConnectionLostError`, which entrypoints may answer by running the request again once;
- a connection died once a commit had been sent on it (by the unit of work, which says so
  with `note_commit_sent`): `OutcomeUnknownError`, never repeated.

A connection that died takes every connection opened before it out of the pool (they
share its server's fate, and SQLAlchemy recycles them at their next checkout), so one
request, not one per pooled connection, pays for discovering a restart. The outage is
logged once, at WARNING with the driver's words, and the recovery once, when a new
connection opens again (`adapters.system.outage_log`).
"""

import weakref
from typing import Any, Final

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection

from adapters.system.outage_log import OutageLog
from application.common.errors import (
    ApplicationError,
    ConnectionLostError,
    DependencyUnavailableError,
    OutcomeUnknownError,
)

DATABASE: Final = "database"
"""The key of the error envelope for these errors."""

_committed: "weakref.WeakSet[Connection]" = weakref.WeakSet()
_watches: "weakref.WeakKeyDictionary[Engine, DatabaseOutageWatch]" = weakref.WeakKeyDictionary()


class DatabaseOutageWatch:
    """Turns one engine's connection failures into application errors and logs outages."""

    def __init__(self, *, retry_after_seconds: int) -> None:
        self.retry_after_seconds = retry_after_seconds
        self.outage = OutageLog(DATABASE, what_waits="requests that need it answer 503")

    def unreachable(self, cause: BaseException) -> ApplicationError:
        """The error for a connection that could not be opened."""
        self.outage.down(cause)
        return DependencyUnavailableError(
            "is unavailable; try again shortly",
            field=DATABASE,
            retry_after_seconds=self.retry_after_seconds,
        )

    def lost(self, connection: Connection | None, cause: BaseException) -> ApplicationError:
        """The error for a connection that died under `connection`'s request."""
        self.outage.down(cause)
        if connection is not None and connection in _committed:
            return OutcomeUnknownError(
                "the connection was lost after a change was sent; it may or may not have "
                "been saved: read it back before repeating it",
                field=DATABASE,
                retry_after_seconds=self.retry_after_seconds,
            )
        return ConnectionLostError(
            "the connection was lost; nothing was saved, try again shortly",
            field=DATABASE,
            retry_after_seconds=self.retry_after_seconds,
        )

    def on_error(self, context: ExceptionContext) -> BaseException | None:
        """SQLAlchemy's `handle_error` hook: replace the failures above, leave the rest.

        A connection is being opened when there is none yet, and also when one that died
        (invalidated) is used again: SQLAlchemy then opens a new one under it, and a server
        still away fails that the same way.
        """
        original = context.original_exception
        if context.is_disconnect:
            return self.lost(context.connection, original)
        opening = context.connection is None or context.connection.invalidated
        if opening and isinstance(original, psycopg.OperationalError):
            return self.unreachable(original)
        return None

    def on_connect(self, _dbapi_connection: Any, _record: Any) -> None:
        """SQLAlchemy's pool `connect` hook: a connection opened, so the server is back."""
        self.outage.up()


def watch_for_outages(engine: AsyncEngine, *, retry_after_seconds: int) -> DatabaseOutageWatch:
    """Translate and log `engine`'s connection failures from now on; see the module's doc."""
    watch = DatabaseOutageWatch(retry_after_seconds=retry_after_seconds)
    _watches[engine.sync_engine] = watch
    event.listen(engine.sync_engine, "handle_error", watch.on_error)
    event.listen(engine.sync_engine, "connect", watch.on_connect)
    return watch


def note_commit_sent(connection: AsyncConnection) -> None:
    """Record that `connection` has sent a commit: a later loss on it has an unknown outcome."""
    if connection.sync_connection is not None:
        _committed.add(connection.sync_connection)


async def translated_driver_failure(
    connection: AsyncConnection, raw: PoolProxiedConnection, exc: psycopg.Error
) -> BaseException:
    """The error to raise for `exc`, raised by psycopg on `raw` outside SQLAlchemy.

    Statements run on the psycopg connection itself (`adapters.sqlalchemy.precompiled`)
    bypass SQLAlchemy's handling; this gives their failures the same treatment: a dead
    connection is invalidated with every connection opened before it, and translated.
    Any other failure is returned as it is.
    """
    driver = raw.driver_connection
    watch = _watches.get(connection.sync_engine)
    if watch is None or driver is None or not (driver.broken or driver.closed):
        return exc
    # Pool._invalidate bumps the pool's generation: tests/integration/test_connection_loss.py
    # It is what SQLAlchemy itself calls on a disconnect; no public method does the same.
    connection.sync_engine.pool._invalidate(raw, exc, _checkin=False)  # noqa: SLF001 - see above
    error = watch.lost(connection.sync_connection, exc)
    await connection.invalidate(exc)
    return error
