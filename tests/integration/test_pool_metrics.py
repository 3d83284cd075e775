"""The database pool's gauges and waits, on a real PostgreSQL pool of one connection."""

import asyncio
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory.metrics import InMemoryMetrics
from adapters.sqlalchemy.engine import create_engine
from adapters.sqlalchemy.pool_metrics import sample_pool
from adapters.sqlalchemy.request_connection import RequestConnection
from application.common.errors import DependencyUnavailableError

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(
        postgres_url,
        pool_size=1,
        max_overflow=0,
        pool_timeout_seconds=0.5,
        connect_timeout_seconds=5,
        application_name="portico-tests",
        autocommit=True,
    )
    yield engine
    await engine.dispose()


def connection(engine: AsyncEngine, metrics: InMemoryMetrics) -> RequestConnection:
    return RequestConnection(engine, retry_after_seconds=1, pool_metrics=metrics, pool_capacity=1)


async def test_a_checkout_that_finds_the_pool_full_reports_its_wait(engine: AsyncEngine) -> None:
    metrics = InMemoryMetrics()
    holder = connection(engine, metrics)
    await holder.execute(sa.text("SELECT 1"))
    assert metrics.waits == [], "the first checkout found a free place"
    sample_pool(engine, metrics, capacity=1)
    assert metrics.gauge("portico_db_pool_checked_out") == 1
    assert metrics.gauge("portico_db_pool_size") == 1

    waiter = connection(engine, metrics)

    async def give_back_soon() -> None:
        await asyncio.sleep(0.2)
        await holder.close()

    await asyncio.gather(give_back_soon(), waiter.execute(sa.text("SELECT 1")))
    await waiter.close()
    ((seconds, timed_out),) = metrics.waits
    assert not timed_out
    assert 0.1 < seconds < 0.5
    sample_pool(engine, metrics, capacity=1)
    assert metrics.gauge("portico_db_pool_checked_out") == 0
    assert metrics.gauge("portico_db_pool_capacity") == 1


async def test_a_checkout_that_times_out_is_a_503_and_counted(engine: AsyncEngine) -> None:
    metrics = InMemoryMetrics()
    holder = connection(engine, metrics)
    await holder.execute(sa.text("SELECT 1"))
    try:
        with pytest.raises(DependencyUnavailableError):
            await connection(engine, metrics).execute(sa.text("SELECT 1"))
    finally:
        await holder.close()
    ((seconds, timed_out),) = metrics.waits
    assert timed_out
    assert seconds >= 0.4
    assert metrics.count("portico_db_pool_timeouts") == 1
