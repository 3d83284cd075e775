"""The purge of the consumers' record of handled events, on in-memory adapters."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from adapters.memory.database import InMemoryDatabase
from adapters.memory.processed_events import InMemoryProcessedEvents
from adapters.memory.system import ManualClock, SequentialIdGenerator
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from application.common.outbox import OutboxMessage
from application.events import purge_processed_events
from application.events.purge_processed_events import (
    PurgeProcessedEvents,
    PurgeProcessedEventsCommand,
)

WEEK = PurgeProcessedEventsCommand(retention=timedelta(days=7))
START = datetime(2026, 7, 1, tzinfo=UTC)
MAILER = "notifications.mailer"


class World:
    """One in-memory database, its record of handled events, and a clock that moves."""

    def __init__(self) -> None:
        self.database = InMemoryDatabase()
        self.processed = InMemoryProcessedEvents(self.database)
        self.clock = ManualClock(START)
        self.purge = PurgeProcessedEvents(
            uow=InMemoryUnitOfWork(self.database, SequentialIdGenerator()),
            processed=self.processed,
            clock=self.clock,
        )

    async def handle(self, *event_ids: str) -> None:
        """Record each event as handled by the mailer, now."""
        for event_id in event_ids:
            assert await self.processed.claim(MAILER, event_id, at=self.clock.now())

    def remembered(self) -> set[str]:
        """The event ids the mailer is known to have handled."""
        return {event_id for _, event_id in self.database.table("processed_events")}


async def test_records_older_than_the_retention_go_and_the_rest_stay() -> None:
    world = World()
    await world.handle("old-1", "old-2")
    world.clock.advance(timedelta(days=3))
    await world.handle("recent")
    assert await world.purge(WEEK) == 0, "nothing is older than a week yet"
    world.clock.advance(timedelta(days=5))
    assert await world.purge(WEEK) == 2
    assert world.remembered() == {"recent"}
    assert await world.purge(WEEK) == 0, "a second run finds nothing"


async def test_a_purged_event_delivered_again_is_handled_again() -> None:
    world = World()
    await world.handle("late")
    world.clock.advance(timedelta(days=8))
    await world.purge(WEEK)
    assert await world.processed.claim(MAILER, "late", at=world.clock.now())


async def test_a_large_purge_goes_a_batch_per_transaction_until_nothing_is_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(purge_processed_events, "PURGE_BATCH", 2)
    world = World()
    await world.handle("a", "b", "c", "d", "e")
    world.clock.advance(timedelta(days=8))
    await world.handle("kept")
    commits = 0
    real_commit = InMemoryUnitOfWork.commit

    async def counting_commit(self: InMemoryUnitOfWork) -> Sequence[OutboxMessage]:
        nonlocal commits
        commits += 1
        return await real_commit(self)

    monkeypatch.setattr(InMemoryUnitOfWork, "commit", counting_commit)
    assert await world.purge(WEEK) == 5
    assert commits == 3, "batches of 2, 2 and 1, each committed"
    assert world.remembered() == {"kept"}
