"""The `UnitOfWork` contract, run against the in-memory and the PostgreSQL adapters."""

import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory.database import InMemoryDatabase
from adapters.memory.outbox import InMemoryOutboxReader
from adapters.memory.system import SequentialIdGenerator
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from adapters.sqlalchemy.outbox import SqlOutboxReader
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.common.correlation import current_request_id
from application.common.outbox import OutboxMessage
from application.common.ports.unit_of_work import UnitOfWork
from tests.support.events import Counter, CounterIncremented
from tests.support.postgres import engine_for_tests, truncate_all

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Harness:
    """Opens units of work and reads back the outbox, for one adapter."""

    def __init__(self, stack: AsyncExitStack, kind: str, engine: AsyncEngine | None) -> None:
        self._stack = stack
        self._ids = SequentialIdGenerator()
        self.kind = kind
        self._database = InMemoryDatabase()
        self._engine = engine

    async def unit_of_work(self) -> UnitOfWork:
        if self.kind == "memory":
            return InMemoryUnitOfWork(self._database, self._ids)
        assert self._engine is not None
        connection = await self._stack.enter_async_context(self._engine.connect())
        return SqlAlchemyUnitOfWork(connection, self._ids)

    async def outbox(self) -> list[OutboxMessage]:
        if self.kind == "memory":
            return list(await InMemoryOutboxReader(self._database).pending(limit=1000))
        assert self._engine is not None
        async with self._engine.connect() as connection:
            return list(await SqlOutboxReader(connection).pending(limit=1000))


@pytest.fixture(
    params=[
        "memory",
        pytest.param("sqlalchemy", marks=pytest.mark.integration),
        pytest.param("sqlalchemy-autocommit", marks=pytest.mark.integration),
    ]
)
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        async with AsyncExitStack() as stack:
            yield Harness(stack, "memory", None)
        return
    engine = engine_for_tests(
        request.getfixturevalue("migrated_url"), autocommit=request.param.endswith("autocommit")
    )
    try:
        async with AsyncExitStack() as stack:
            yield Harness(stack, request.param, engine)
    finally:
        await truncate_all(engine)
        await engine.dispose()


async def test_commit_writes_the_tracked_aggregates_events_in_order(harness: Harness) -> None:
    first, second = Counter("a"), Counter("b")
    async with await harness.unit_of_work() as uow:
        first.increment(1, now=NOW)
        second.increment(2, now=NOW, note="ünïcode ✓")
        first.increment(3, now=NOW)
        uow.track(first)
        uow.track(second)
        written = await uow.commit()

    stored = await harness.outbox()
    assert [m.event_id for m in stored] == [m.event_id for m in written]
    assert [(m.event.aggregate_id, m.event.amount) for m in stored] == [  # type: ignore[attr-defined]
        ("a", 1),
        ("a", 3),
        ("b", 2),
    ]
    assert stored[2].event == CounterIncremented(
        aggregate_id="b", occurred_at=NOW, amount=2, note="ünïcode ✓"
    )
    assert not first.has_pending_events


async def test_leaving_without_commit_discards_everything(harness: Harness) -> None:
    counter = Counter("a")
    async with await harness.unit_of_work() as uow:
        counter.increment(1, now=NOW)
        uow.track(counter)
    assert await harness.outbox() == []
    assert not counter.has_pending_events


async def test_an_exception_rolls_back_and_propagates(harness: Harness) -> None:
    counter = Counter("a")

    async def change_then_fail() -> None:
        async with await harness.unit_of_work() as uow:
            counter.increment(1, now=NOW)
            uow.track(counter)
            raise LookupError

    with pytest.raises(LookupError):
        await change_then_fail()
    assert await harness.outbox() == []


async def test_explicit_rollback_discards_the_transaction(harness: Harness) -> None:
    counter = Counter("a")
    async with await harness.unit_of_work() as uow:
        counter.increment(1, now=NOW)
        uow.track(counter)
        await uow.rollback()
    assert await harness.outbox() == []


async def test_a_later_failed_transaction_keeps_the_earlier_commit(harness: Harness) -> None:
    counter = Counter("a")
    async with await harness.unit_of_work() as uow:
        counter.increment(1, now=NOW)
        uow.track(counter)
        await uow.commit()
    async with await harness.unit_of_work() as uow:
        counter.increment(2, now=NOW)
        uow.track(counter)
    assert [m.event.amount for m in await harness.outbox()] == [1]  # type: ignore[attr-defined]


async def test_the_unit_of_work_can_commit_again_after_a_commit(harness: Harness) -> None:
    counter = Counter("a")
    async with await harness.unit_of_work() as uow:
        counter.increment(1, now=NOW)
        uow.track(counter)
        await uow.commit()
        counter.increment(2, now=NOW)
        uow.track(counter)
        await uow.commit()
    assert [m.event.amount for m in await harness.outbox()] == [1, 2]  # type: ignore[attr-defined]


async def test_tracking_twice_collects_each_event_once(harness: Harness) -> None:
    counter = Counter("a")
    async with await harness.unit_of_work() as uow:
        counter.increment(1, now=NOW)
        uow.track(counter)
        uow.track(counter)
        await uow.commit()
    assert len(await harness.outbox()) == 1


async def test_a_commit_without_events_writes_nothing(harness: Harness) -> None:
    async with await harness.unit_of_work() as uow:
        assert await uow.commit() == []
    assert await harness.outbox() == []


async def test_messages_carry_the_current_request_id(harness: Harness) -> None:
    counter = Counter("a")
    token = current_request_id.set("req-42")
    try:
        async with await harness.unit_of_work() as uow:
            counter.increment(1, now=NOW)
            uow.track(counter)
            await uow.commit()
    finally:
        current_request_id.reset(token)
    (message,) = await harness.outbox()
    assert message.request_id == "req-42"
    assert message.event_type == "test.counter_incremented"


async def test_commit_outside_the_block_is_refused(harness: Harness) -> None:
    uow = await harness.unit_of_work()
    with pytest.raises(RuntimeError, match="async with"):
        await uow.commit()


async def test_after_a_rollback_the_same_block_can_commit_new_changes(harness: Harness) -> None:
    counter = Counter("a")
    async with await harness.unit_of_work() as uow:
        counter.increment(1, now=NOW)
        uow.track(counter)
        await uow.rollback()
        counter.increment(2, now=NOW)
        uow.track(counter)
        await uow.commit()
    assert [m.event.amount for m in await harness.outbox()] == [2]  # type: ignore[attr-defined]


async def test_the_unit_of_work_is_reusable_across_blocks(harness: Harness) -> None:
    counter = Counter("a")
    uow = await harness.unit_of_work()
    for amount in (1, 2):
        async with uow:
            counter.increment(amount, now=NOW)
            uow.track(counter)
            await uow.commit()
    assert [m.event.amount for m in await harness.outbox()] == [1, 2]  # type: ignore[attr-defined]


@pytest.mark.integration
async def test_a_request_connection_reads_in_autocommit_around_its_transaction(
    migrated_url: str,
) -> None:
    engine = engine_for_tests(migrated_url, autocommit=True)
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(sa.text("SELECT count(*) FROM outbox")) == 0
            uow = SqlAlchemyUnitOfWork(connection, SequentialIdGenerator())
            async with uow:
                level = await connection.scalar(sa.text("SHOW transaction_isolation"))
                assert level == "read committed"
                counter = Counter("c")
                counter.increment(1, now=NOW)
                uow.track(counter)
                raw = await connection.get_raw_connection()
                assert raw.driver_connection.autocommit is False  # type: ignore[union-attr]
            raw = await connection.get_raw_connection()
            assert raw.driver_connection.autocommit is True  # type: ignore[union-attr]
            assert await connection.scalar(sa.text("SELECT count(*) FROM outbox")) == 0
    finally:
        await truncate_all(engine)
        await engine.dispose()


async def test_a_nested_block_joins_the_open_transaction(harness: Harness) -> None:
    uow = await harness.unit_of_work()
    outer, inner = Counter("outer"), Counter("inner")
    async with uow:
        outer.increment(1, now=NOW)
        uow.track(outer)
        async with uow:
            inner.increment(2, now=NOW)
            uow.track(inner)
            assert await uow.commit() == []
        assert await harness.outbox() == [], "nothing is visible before the outer commit"
        await uow.commit()
    assert [m.event.aggregate_id for m in await harness.outbox()] == ["outer", "inner"]


async def test_a_failure_after_a_nested_commit_rolls_everything_back(harness: Harness) -> None:
    uow = await harness.unit_of_work()
    counter = Counter("doomed")

    async def nested_then_fail() -> None:
        async with uow:
            async with uow:
                counter.increment(1, now=NOW)
                uow.track(counter)
                await uow.commit()
            raise RuntimeError

    with pytest.raises(RuntimeError):
        await nested_then_fail()
    assert await harness.outbox() == []
    async with uow:
        counter.increment(2, now=NOW)
        uow.track(counter)
        await uow.commit()
    assert [m.event.amount for m in await harness.outbox()] == [2]  # type: ignore[attr-defined]


async def test_a_nested_block_left_by_an_error_dooms_the_transaction(harness: Harness) -> None:
    uow = await harness.unit_of_work()
    counter = Counter("swallowed")

    async def failing_use_case() -> None:
        async with uow:
            counter.increment(1, now=NOW)
            uow.track(counter)
            raise ValueError

    async with uow:
        with contextlib.suppress(ValueError):
            await failing_use_case()
        with pytest.raises(RuntimeError, match="only roll back"):
            await uow.commit()
    assert await harness.outbox() == []
    async with uow:
        counter.increment(2, now=NOW)
        uow.track(counter)
        await uow.commit()
    assert [m.event.amount for m in await harness.outbox()] == [2]  # type: ignore[attr-defined]


async def test_after_commit_callbacks_wait_for_the_outermost_commit(harness: Harness) -> None:
    ran: list[str] = []
    counter = Counter("a")
    async with await harness.unit_of_work() as uow:
        async with uow:
            counter.increment(1, now=NOW)
            uow.track(counter)

            async def callback() -> None:
                ran.append(f"outbox holds {len(await harness.outbox())}")

            uow.after_commit(callback)
            await uow.commit()
        assert ran == []
        await uow.commit()
    assert ran == ["outbox holds 1"]


async def test_a_rollback_drops_the_after_commit_callbacks(harness: Harness) -> None:
    ran: list[str] = []

    async def callback() -> None:
        ran.append("ran")

    async with await harness.unit_of_work() as uow:
        uow.after_commit(callback)
        await uow.rollback()
        await uow.commit()
    async with uow:
        uow.after_commit(callback)
    async with uow:
        await uow.commit()
    assert ran == []


async def test_a_failing_callback_neither_undoes_the_commit_nor_stops_the_next(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    async def failing() -> None:
        raise RuntimeError("queue down")

    async def succeeding() -> None:
        ran.append("second")

    counter = Counter("a")
    async with await harness.unit_of_work() as uow:
        counter.increment(1, now=NOW)
        uow.track(counter)
        uow.after_commit(failing)
        uow.after_commit(succeeding)
        await uow.commit()
    assert ran == ["second"]
    assert len(await harness.outbox()) == 1
    assert "work after a commit failed" in caplog.text
