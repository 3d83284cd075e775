"""How full this process's pool of database connections is, for the metrics ports."""

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from application.common.ports.metrics import DatabasePoolMetrics


def sample_pool(engine: AsyncEngine, metrics: DatabasePoolMetrics, *, capacity: int) -> None:
    """Report the connections the engine's pool holds and lends now; `capacity` is its most.

    A pool that keeps no count (not a `QueuePool`: a test's `NullPool`) reports nothing.
    """
    pool = engine.sync_engine.pool
    if isinstance(pool, QueuePool):
        checked_out = pool.checkedout()
        metrics.pool_sampled(
            size=pool.checkedin() + checked_out, checked_out=checked_out, capacity=capacity
        )


def pool_is_full(engine: AsyncEngine, *, capacity: int) -> bool:
    """Whether a checkout now would wait: nothing idle, and `capacity` connections lent."""
    pool = engine.sync_engine.pool
    return isinstance(pool, QueuePool) and pool.checkedin() == 0 and pool.checkedout() >= capacity
