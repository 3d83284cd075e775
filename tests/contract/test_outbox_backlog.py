"""The `OutboxBacklog` contract on the memory and PostgreSQL adapters."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory.dashboard import InMemoryOutboxBacklog
from adapters.memory.database import InMemoryDatabase
from adapters.memory.outbox import InMemoryOutboxStore
from adapters.memory.system import SequentialIdGenerator
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from adapters.sqlalchemy.dashboard import SqlOutboxBacklog
from adapters.sqlalchemy.outbox import SqlOutboxStore
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.common.ports.unit_of_work import UnitOfWork
from application.dashboard.ports import OutboxBacklog
from application.events.ports import OutboxStore
from tests.support.events import Counter
from tests.support.postgres import engine_for_tests, truncate_all

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Session:
    uow: UnitOfWork
    outbox: OutboxStore
    backlog: OutboxBacklog


@dataclass
class Stores:
    open: Callable[[], Awaitable[Session]]

    async def write(self, *moments: datetime) -> None:
        session = await self.open()
        async with session.uow:
            counter = Counter("c")
            for amount, at in enumerate(moments):
                counter.increment(amount, now=at)
            session.uow.track(counter)
            await session.uow.commit()

    async def relay(self, count: int) -> None:
        session = await self.open()
        async with session.uow:
            claimed = await session.outbox.claim(limit=count, now=NOW + timedelta(days=1))
            await session.outbox.mark_sent([c.message.event_id for c in claimed], at=NOW)
            await session.uow.commit()


@pytest.fixture(params=["memory", pytest.param("sqlalchemy", marks=pytest.mark.integration)])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    ids = SequentialIdGenerator()
    if request.param == "memory":
        database = InMemoryDatabase()

        async def open_memory() -> Session:
            return Session(
                InMemoryUnitOfWork(database, ids),
                InMemoryOutboxStore(database),
                InMemoryOutboxBacklog(database),
            )

        yield Stores(open_memory)
        return
    engine: AsyncEngine = engine_for_tests(request.getfixturevalue("migrated_url"))
    await truncate_all(engine)
    try:
        async with AsyncExitStack() as stack:

            async def open_sql() -> Session:
                connection = await stack.enter_async_context(engine.connect())
                return Session(
                    SqlAlchemyUnitOfWork(connection, ids),
                    SqlOutboxStore(connection),
                    SqlOutboxBacklog(connection),
                )

            yield Stores(open_sql)
    finally:
        await truncate_all(engine)
        await engine.dispose()


async def test_an_empty_outbox_has_no_backlog(stores: Stores) -> None:
    backlog = await (await stores.open()).backlog.backlog(cap=10)
    assert (backlog.count, backlog.capped, backlog.oldest_at) == (0, False, None)


async def test_the_backlog_is_the_unsent_events_and_the_oldest_of_them(stores: Stores) -> None:
    first, second, third = NOW, NOW + timedelta(seconds=5), NOW + timedelta(seconds=9)
    await stores.write(first, second, third)
    await stores.write(NOW + timedelta(seconds=20))
    await stores.relay(1)
    backlog = await (await stores.open()).backlog.backlog(cap=10)
    assert (backlog.count, backlog.capped, backlog.oldest_at) == (3, False, second)


async def test_a_backlog_beyond_the_cap_is_counted_up_to_it(stores: Stores) -> None:
    await stores.write(*(NOW + timedelta(seconds=n) for n in range(7)))
    backlog = await (await stores.open()).backlog.backlog(cap=5)
    assert (backlog.count, backlog.capped, backlog.oldest_at) == (5, True, NOW)
