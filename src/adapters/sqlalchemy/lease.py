"""An exclusive lease on a PostgreSQL session-level advisory lock."""

import contextlib
import hashlib

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from application.common.errors import DependencyUnavailableError
from application.common.ports.lease import ExclusiveLease

_LOST = (SQLAlchemyError, DependencyUnavailableError)
"""What a dead connection or an unreachable server raises (`connection_loss` translates)."""

_SCHEMA = text("SELECT current_schema()")
_TRY_LOCK = text("SELECT pg_try_advisory_lock(:key)")
_UNLOCK = text("SELECT pg_advisory_unlock(:key)")
_PING = text("SELECT 1")


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for `name`, the type pg_advisory_lock takes."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class PostgresAdvisoryLease(ExclusiveLease):
    """The `ExclusiveLease` port on `pg_try_advisory_lock`, held on a connection of its own.

    PostgreSQL releases the lock when that connection ends, so a holder that crashes, or
    whose connection the server drops, loses the lease at once, and `is_held` says so.
    Advisory locks are per database, so the key also names the schema the connection works
    in: deployments that share a database in schemas of their own each have their lease.
    """

    def __init__(self, engine: AsyncEngine, *, name: str) -> None:
        self._engine = engine
        self._name = name
        self._key: int | None = None
        self._connection: AsyncConnection | None = None
        self._held = False

    @property
    def key(self) -> int | None:
        """The advisory lock's key, known once the lease was first tried."""
        return self._key

    async def try_acquire(self) -> bool:
        """Take the lock if it is free; raises what the database raised when it is down."""
        if self._held:
            return await self.is_held()
        if self._connection is None:
            self._connection = await self._engine.connect()
        try:
            if self._key is None:
                schema = (await self._connection.execute(_SCHEMA)).scalar_one()
                self._key = advisory_key(f"{schema}:{self._name}")
            result = await self._connection.execute(_TRY_LOCK, {"key": self._key})
            self._held = bool(result.scalar_one())
            await self._connection.commit()
        except _LOST:
            await self._drop_connection()
            raise
        return self._held

    async def is_held(self) -> bool:
        """Whether the connection holding the lock still answers."""
        if not self._held or self._connection is None:
            return False
        try:
            await self._connection.execute(_PING)
            await self._connection.commit()
        except _LOST:
            await self._drop_connection()
            return False
        return True

    async def release(self) -> None:
        """Unlock and close the connection; a lost connection has released it already."""
        if self._connection is not None and self._held:
            with contextlib.suppress(*_LOST):
                await self._connection.execute(_UNLOCK, {"key": self._key})
                await self._connection.commit()
        await self._drop_connection()

    async def _drop_connection(self) -> None:
        connection, self._connection, self._held = self._connection, None, False
        if connection is not None:
            with contextlib.suppress(*_LOST):
                await connection.close()
