"""The `ProcessedEvents` contract, on the memory and PostgreSQL adapters.

It is what makes a consumer's effect happen once under at-least-once delivery: the first
claim of (consumer, event id) wins, every later one is refused, and a claim lives or dies
with the transaction it was written in.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory.database import InMemoryDatabase
from adapters.memory.processed_events import InMemoryProcessedEvents
from adapters.memory.system import SequentialIdGenerator
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from adapters.sqlalchemy.processed_events import SqlProcessedEvents
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.common.ports.unit_of_work import UnitOfWork
from application.events.ports import ProcessedEvents
from tests.support.postgres import engine_for_tests, truncate_all

NOW = datetime(2026, 7, 1, tzinfo=UTC)
MAILER = "notifications.mailer"
INBOX = "notifications.inbox"
EVENT = "0190a6c4-0000-7000-8000-000000000001"
OTHER_EVENT = "0190a6c4-0000-7000-8000-000000000002"


class Harness:
    """Opens transactions, each with the `ProcessedEvents` adapter on that transaction."""

    def __init__(self, engine: AsyncEngine | None) -> None:
        self._engine = engine
        self._database = InMemoryDatabase()
        self._ids = SequentialIdGenerator()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[tuple[UnitOfWork, ProcessedEvents]]:
        """A unit of work, entered, and the claims written in it; rolled back unless committed."""
        async with AsyncExitStack() as stack:
            if self._engine is None:
                uow: UnitOfWork = InMemoryUnitOfWork(self._database, self._ids)
                processed: ProcessedEvents = InMemoryProcessedEvents(self._database)
            else:
                connection = await stack.enter_async_context(self._engine.connect())
                uow = SqlAlchemyUnitOfWork(connection, self._ids)
                processed = SqlProcessedEvents(connection)
            async with uow:
                yield uow, processed

    async def claim(self, consumer: str, event_id: str, *, at: datetime = NOW) -> bool:
        """Claim in a transaction of its own, and commit it."""
        async with self.transaction() as (uow, processed):
            claimed = await processed.claim(consumer, event_id, at=at)
            await uow.commit()
        return claimed

    async def purge(self, cutoff: datetime, *, limit: int) -> int:
        """Purge one batch in a transaction of its own, and commit it."""
        async with self.transaction() as (uow, processed):
            purged = await processed.purge_older_than(cutoff, limit=limit)
            await uow.commit()
        return purged


@pytest.fixture(params=["memory", pytest.param("sqlalchemy", marks=pytest.mark.integration)])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        yield Harness(None)
        return
    engine = engine_for_tests(request.getfixturevalue("migrated_url"), autocommit=True)
    try:
        yield Harness(engine)
    finally:
        await truncate_all(engine)
        await engine.dispose()


async def test_the_first_claim_wins_and_every_later_one_is_refused(harness: Harness) -> None:
    assert await harness.claim(MAILER, EVENT)
    assert not await harness.claim(MAILER, EVENT), "a redelivered event is skipped"
    assert not await harness.claim(MAILER, EVENT)


async def test_a_second_claim_in_the_same_transaction_is_refused(harness: Harness) -> None:
    async with harness.transaction() as (uow, processed):
        assert await processed.claim(MAILER, EVENT, at=NOW)
        assert not await processed.claim(MAILER, EVENT, at=NOW)
        await uow.commit()


async def test_each_consumer_claims_an_event_for_itself(harness: Harness) -> None:
    assert await harness.claim(MAILER, EVENT)
    assert await harness.claim(INBOX, EVENT), "another consumer's record does not count"
    assert not await harness.claim(INBOX, EVENT)
    assert not await harness.claim(MAILER, EVENT)


async def test_each_event_is_claimed_on_its_own(harness: Harness) -> None:
    assert await harness.claim(MAILER, EVENT)
    assert await harness.claim(MAILER, OTHER_EVENT)


async def test_a_claim_rolled_back_with_its_transaction_is_not_recorded(
    harness: Harness,
) -> None:
    async with harness.transaction() as (_, processed):
        assert await processed.claim(MAILER, EVENT, at=NOW)

    async def claim_then_fail() -> None:
        async with harness.transaction() as (_, processed):
            assert await processed.claim(MAILER, EVENT, at=NOW)
            raise LookupError

    with pytest.raises(LookupError):
        await claim_then_fail()
    assert await harness.claim(MAILER, EVENT), "the failed handling is retried in full"


@pytest.mark.parametrize(("first_commits", "second_wins"), [(True, False), (False, True)])
async def test_a_racing_claim_waits_for_the_first_transaction_and_follows_its_outcome(
    harness: Harness, *, first_commits: bool, second_wins: bool
) -> None:
    claimed, decided = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with harness.transaction() as (uow, processed):
            assert await processed.claim(MAILER, EVENT, at=NOW)
            claimed.set()
            await decided.wait()
            if first_commits:
                await uow.commit()

    holder = asyncio.create_task(first())
    await claimed.wait()
    racer = asyncio.create_task(harness.claim(MAILER, EVENT))
    try:
        await asyncio.sleep(0.2)
        assert not racer.done(), "the second claim waits for the first transaction to end"
    finally:
        decided.set()
        await holder
    assert await asyncio.wait_for(racer, timeout=10) is second_wins


async def test_of_many_racing_claims_exactly_one_wins(harness: Harness) -> None:
    results = await asyncio.gather(*(harness.claim(MAILER, EVENT) for _ in range(5)))
    assert sorted(results) == [False] * 4 + [True]


async def test_records_older_than_the_cutoff_are_purged_oldest_first_in_batches(
    harness: Harness,
) -> None:
    day = timedelta(days=1)
    assert await harness.claim(MAILER, EVENT, at=NOW - 3 * day)
    assert await harness.claim(INBOX, EVENT, at=NOW - 2 * day)
    assert await harness.claim(MAILER, OTHER_EVENT, at=NOW - 2 * day)
    assert await harness.claim(INBOX, OTHER_EVENT, at=NOW)
    assert await harness.purge(NOW - day, limit=2) == 2
    assert await harness.claim(MAILER, EVENT), "the oldest record went first"
    assert await harness.purge(NOW - day, limit=2) == 1
    assert await harness.purge(NOW - day, limit=2) == 0
    assert not await harness.claim(INBOX, OTHER_EVENT), "a record newer than the cutoff stays"


async def test_a_record_made_at_the_cutoff_is_kept(harness: Harness) -> None:
    assert await harness.claim(MAILER, EVENT, at=NOW)
    assert await harness.purge(NOW, limit=10) == 0
    assert not await harness.claim(MAILER, EVENT)


async def test_a_purge_rolled_back_with_its_transaction_keeps_the_records(
    harness: Harness,
) -> None:
    assert await harness.claim(MAILER, EVENT, at=NOW - timedelta(days=1))
    async with harness.transaction() as (_, processed):
        assert await processed.purge_older_than(NOW, limit=10) == 1
    assert not await harness.claim(MAILER, EVENT), "the record is still there"
