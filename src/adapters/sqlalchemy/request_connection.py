"""The connection a request (or a job, or a handled event) uses: taken from the pool when needed."""

import time
from typing import Any

from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection

from adapters.inprocess.metrics import NO_METRICS
from adapters.sqlalchemy.connection_loss import DATABASE
from adapters.sqlalchemy.pool_metrics import pool_is_full
from application.common.errors import DependencyUnavailableError
from application.common.ports.metrics import DatabasePoolMetrics


class RequestConnection(AsyncConnection):
    """An `AsyncConnection` checked out of the pool by its first statement, not before.

    A request that never reaches the database (a read the cache answers, a route that only
    needs the token) holds no connection, and keeps working while the database is down.
    Until then it is "not in a transaction", and committing, rolling back or closing it
    does nothing. Waiting longer than the pool's timeout for a connection is a 503
    (`DependencyUnavailableError`), like an unreachable server, rather than a 500.

    SQLAlchemy's `AsyncConnection` is a thin proxy that starts on `start()`; this subclass
    only starts it on demand. Given the pool's `pool_capacity`, it also tells
    `pool_metrics` how long a checkout that found every connection lent waited, and about
    every checkout that timed out.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        retry_after_seconds: int,
        pool_metrics: DatabasePoolMetrics = NO_METRICS,
        pool_capacity: int = 0,
    ) -> None:
        super().__init__(engine)
        self._retry_after_seconds = retry_after_seconds
        self._pool_metrics = pool_metrics
        self._pool_capacity = pool_capacity

    async def _ensure_started(self) -> None:
        if self.sync_connection is not None:
            return
        watched = bool(self._pool_capacity)
        waits = watched and pool_is_full(self.engine, capacity=self._pool_capacity)
        waiting_since = time.perf_counter() if watched else 0.0
        try:
            await self.start()
        except PoolTimeoutError as exc:
            if watched:
                self._pool_metrics.pool_waited(
                    seconds=time.perf_counter() - waiting_since, timed_out=True
                )
            raise DependencyUnavailableError(
                "is busy; try again shortly",
                field=DATABASE,
                retry_after_seconds=self._retry_after_seconds,
            ) from exc
        if waits:
            self._pool_metrics.pool_waited(
                seconds=time.perf_counter() - waiting_since, timed_out=False
            )

    @property
    def started(self) -> bool:
        """Whether a connection has been taken from the pool."""
        return self.sync_connection is not None

    def in_transaction(self) -> bool:
        """False until the first statement; then SQLAlchemy's answer."""
        return self.sync_connection is not None and super().in_transaction()

    async def get_raw_connection(self) -> PoolProxiedConnection:
        """The pooled driver connection, checked out now if it was not yet."""
        await self._ensure_started()
        return await super().get_raw_connection()

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        """`AsyncConnection.execute`, on a connection checked out first if need be."""
        await self._ensure_started()
        return await super().execute(*args, **kwargs)

    async def exec_driver_sql(self, *args: Any, **kwargs: Any) -> Any:
        """`AsyncConnection.exec_driver_sql`, on a connection checked out first if need be."""
        await self._ensure_started()
        return await super().exec_driver_sql(*args, **kwargs)

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        """`AsyncConnection.scalar`, on a connection checked out first if need be."""
        await self._ensure_started()
        return await super().scalar(*args, **kwargs)

    async def scalars(self, *args: Any, **kwargs: Any) -> Any:
        """`AsyncConnection.scalars`, on a connection checked out first if need be."""
        await self._ensure_started()
        return await super().scalars(*args, **kwargs)

    async def run_sync(self, *args: Any, **kwargs: Any) -> Any:
        """`AsyncConnection.run_sync`, on a connection checked out first if need be."""
        await self._ensure_started()
        return await super().run_sync(*args, **kwargs)

    async def execution_options(self, **options: Any) -> "RequestConnection":
        """`AsyncConnection.execution_options`, on a connection checked out first if need be."""
        await self._ensure_started()
        await super().execution_options(**options)
        return self

    async def commit(self) -> None:
        """Commit what is open; nothing to do before the first statement."""
        if self.sync_connection is not None:
            await super().commit()

    async def rollback(self) -> None:
        """Roll back what is open; nothing to do before the first statement."""
        if self.sync_connection is not None:
            await super().rollback()

    async def close(self) -> None:
        """Give the connection back to the pool, if one was taken."""
        if self.sync_connection is not None:
            await super().close()
