"""The `OutboxStore` contract on the memory and PostgreSQL adapters, and SKIP LOCKED claims."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory.database import InMemoryDatabase
from adapters.memory.outbox import InMemoryOutboxStore
from adapters.memory.system import SequentialIdGenerator
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from adapters.sqlalchemy.outbox import SqlOutboxStore
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.common.ports.unit_of_work import UnitOfWork
from application.events.ports import OutboxStore
from tests.support.events import Counter
from tests.support.postgres import engine_for_tests, truncate_all

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Session:
    uow: UnitOfWork
    outbox: OutboxStore


@dataclass
class Stores:
    open: Callable[[], Awaitable[Session]]

    async def write(self, count: int, *, at: datetime = NOW) -> None:
        session = await self.open()
        async with session.uow:
            counter = Counter("c")
            for amount in range(count):
                counter.increment(amount, now=at)
            session.uow.track(counter)
            await session.uow.commit()


@pytest.fixture(params=["memory", pytest.param("sqlalchemy", marks=pytest.mark.integration)])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    ids = SequentialIdGenerator()
    if request.param == "memory":
        database = InMemoryDatabase()

        async def open_memory() -> Session:
            return Session(InMemoryUnitOfWork(database, ids), InMemoryOutboxStore(database))

        yield Stores(open_memory)
        return
    engine: AsyncEngine = engine_for_tests(request.getfixturevalue("migrated_url"))
    await truncate_all(engine)
    try:
        async with AsyncExitStack() as stack:

            async def open_sql() -> Session:
                connection = await stack.enter_async_context(engine.connect())
                return Session(SqlAlchemyUnitOfWork(connection, ids), SqlOutboxStore(connection))

            yield Stores(open_sql)
    finally:
        await truncate_all(engine)
        await engine.dispose()


async def test_claim_takes_the_oldest_due_rows_and_marking_removes_them(stores: Stores) -> None:
    await stores.write(5)
    session = await stores.open()
    async with session.uow:
        claimed = await session.outbox.claim(limit=3, now=NOW)
        assert [c.message.event.amount for c in claimed] == [0, 1, 2]  # type: ignore[attr-defined]
        assert {c.attempts for c in claimed} == {0}
        await session.outbox.mark_sent([c.message.event_id for c in claimed], at=NOW)
        await session.uow.commit()
        rest = await session.outbox.claim(limit=10, now=NOW)
        assert [c.message.event.amount for c in rest] == [3, 4]  # type: ignore[attr-defined]
        status = await session.outbox.status()
        await session.uow.commit()
    assert (status.pending, status.sent, status.failing) == (2, 3, 0)
    assert status.oldest_pending_at == NOW


async def test_a_rolled_back_claim_leaves_the_rows_unsent(stores: Stores) -> None:
    await stores.write(2)
    session = await stores.open()
    async with session.uow:
        claimed = await session.outbox.claim(limit=10, now=NOW)
        await session.outbox.mark_sent([c.message.event_id for c in claimed], at=NOW)
    async with session.uow:
        assert len(await session.outbox.claim(limit=10, now=NOW)) == 2


async def test_failures_count_and_delay_the_next_attempt(stores: Stores) -> None:
    await stores.write(1)
    session = await stores.open()
    async with session.uow:
        (claimed,) = await session.outbox.claim(limit=10, now=NOW)
        await session.outbox.record_failure(
            [claimed.message.event_id], error="broker down", retry_at=NOW + timedelta(seconds=5)
        )
        await session.uow.commit()
        assert await session.outbox.claim(limit=10, now=NOW + timedelta(seconds=4)) == []
        (again,) = await session.outbox.claim(limit=10, now=NOW + timedelta(seconds=5))
        assert again.attempts == 1
        status = await session.outbox.status()
        await session.uow.commit()
    assert (status.pending, status.failing, status.last_error) == (1, 1, "broker down")


async def test_purge_and_replay(stores: Stores) -> None:
    await stores.write(2)
    await stores.write(1, at=NOW + timedelta(hours=1))
    session = await stores.open()
    async with session.uow:
        claimed = await session.outbox.claim(limit=10, now=NOW + timedelta(hours=2))
        await session.outbox.mark_sent([c.message.event_id for c in claimed], at=NOW)
        await session.uow.commit()
        assert await session.outbox.replay(since=NOW + timedelta(hours=1)) == 1
        assert await session.outbox.purge_sent(before=NOW + timedelta(seconds=1)) == 2
        status = await session.outbox.status()
        await session.uow.commit()
    assert (status.pending, status.sent) == (1, 0)


@pytest.mark.integration
async def test_concurrent_claims_never_share_a_row(migrated_url: str) -> None:
    engine = engine_for_tests(migrated_url)
    await truncate_all(engine)
    ids = SequentialIdGenerator()
    try:
        async with engine.connect() as connection:
            uow = SqlAlchemyUnitOfWork(connection, ids)
            async with uow:
                counter = Counter("c")
                for amount in range(40):
                    counter.increment(amount, now=NOW)
                uow.track(counter)
                await uow.commit()
        holding = asyncio.Event()
        taken: list[set[int]] = []

        async def relay(wait: bool) -> None:
            async with engine.connect() as connection:
                uow = SqlAlchemyUnitOfWork(connection, ids)
                store = SqlOutboxStore(connection)
                async with uow:
                    if wait:
                        await holding.wait()
                    claimed = await store.claim(limit=25, now=NOW)
                    taken.append({c.message.event.amount for c in claimed})  # type: ignore[attr-defined]
                    if not wait:
                        holding.set()
                        await asyncio.sleep(0.2)
                    await store.mark_sent([c.message.event_id for c in claimed], at=NOW)
                    await uow.commit()

        await asyncio.gather(relay(wait=False), relay(wait=True))
        first, second = taken
        assert not first & second
        assert first | second == set(range(40))
    finally:
        await truncate_all(engine)
        await engine.dispose()


@pytest.mark.integration
async def test_a_row_this_version_cannot_read_is_parked_and_blocks_nothing(
    migrated_url: str,
) -> None:
    engine = engine_for_tests(migrated_url)
    await truncate_all(engine)
    ids = SequentialIdGenerator()
    try:
        async with engine.connect() as connection:
            await connection.execute(
                sa.text(
                    "INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id,"
                    " occurred_at, payload) VALUES (:id, 'billing.invoice_paid', 'invoice', 'i1',"
                    " :at, '{}')"
                ),
                {"id": uuid.uuid4(), "at": NOW},
            )
            await connection.commit()
            uow = SqlAlchemyUnitOfWork(connection, ids)
            async with uow:
                counter = Counter("after")
                counter.increment(1, now=NOW)
                uow.track(counter)
                await uow.commit()
            store = SqlOutboxStore(connection)
            async with uow:
                claimed = await store.claim(limit=10, now=NOW)
                await store.mark_sent([c.message.event_id for c in claimed], at=NOW)
                await uow.commit()
            assert [c.message.event.aggregate_id for c in claimed] == ["after"]
            async with uow:
                assert await store.claim(limit=10, now=NOW + timedelta(minutes=59)) == []
                assert await store.claim(limit=10, now=NOW + timedelta(minutes=61)) == []
                status = await store.status()
                await uow.commit()
            attempts = await connection.scalar(
                sa.text("SELECT attempts FROM outbox WHERE aggregate_id = 'i1'")
            )
        assert attempts == 2, "parked again on the next try, never dropped"
        assert (status.pending, status.failing) == (1, 1)
        assert status.last_error is not None
        assert "billing.invoice_paid" in status.last_error
    finally:
        await truncate_all(engine)
        await engine.dispose()
