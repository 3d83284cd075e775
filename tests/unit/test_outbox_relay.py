"""The relay on in-memory adapters: order, marking, retries with backoff, purge, replay."""

from datetime import timedelta
from typing import Any

import pytest

from adapters.inprocess.event_bus import InProcessEventBus
from adapters.memory.event_publisher import InMemoryEventPublisher
from adapters.memory.outbox import InMemoryOutboxReader, InMemoryOutboxStore
from application.common.ports.events import EventPublishError
from application.events.outbox_status import GetOutboxStatus
from application.events.ports import TransientDeliveryError
from application.events.purge_outbox import PurgeOutbox, PurgeOutboxCommand
from application.events.relay_outbox import RelayOutbox, RelayPolicy
from application.events.replay_outbox import ReplayOutbox, ReplayOutboxCommand
from tests.support.articles import ArticlesWorld

POLICY = RelayPolicy(batch_size=3, retry_base=timedelta(seconds=1), retry_max=timedelta(seconds=30))


@pytest.fixture
def world() -> ArticlesWorld:
    return ArticlesWorld()


def relay(world: ArticlesWorld, publisher: Any) -> RelayOutbox:
    return RelayOutbox(
        uow=world.uow(),
        outbox=InMemoryOutboxStore(world.database),
        publisher=publisher,
        clock=world.clock,
        policy=POLICY,
    )


async def pending(world: ArticlesWorld) -> int:
    return len(await InMemoryOutboxReader(world.database).pending(limit=1000))


async def test_batches_go_out_in_order_and_are_marked_sent(world: ArticlesWorld) -> None:
    author = await world.writer("alice")
    for number in range(3):
        await world.publish(author, f"a{number}")
    written = [m.event_id for m in world.database.outbox]
    publisher = InMemoryEventPublisher()
    reports = [await relay(world, publisher)() for _ in range(3)]
    assert [(r.published, r.failed) for r in reports] == [(3, 0), (1, 0), (0, 0)]
    assert [m.event_id for m in publisher.published] == written
    assert await pending(world) == 0


async def test_a_failed_batch_waits_with_backoff_and_is_never_dropped(world: ArticlesWorld) -> None:
    await world.writer("alice")
    publisher = InMemoryEventPublisher()
    publisher.fail_next(2)
    first = await relay(world, publisher)()
    assert (first.published, first.failed) == (0, 1)
    assert first.error is not None
    assert (await relay(world, publisher)()).failed == 0, "not due yet"
    world.clock.advance(timedelta(seconds=2))
    assert (await relay(world, publisher)()).failed == 1
    status = await GetOutboxStatus(InMemoryOutboxStore(world.database))()
    assert (status.pending, status.failing) == (1, 1)
    assert status.last_error == "the in-memory bus was told to fail"
    world.clock.advance(timedelta(seconds=3))
    assert (await relay(world, publisher)()).failed == 0, "backoff doubled to 4 s"
    world.clock.advance(timedelta(seconds=2))
    assert (await relay(world, publisher)()).published == 1
    assert len(publisher.published) == 1
    assert (await GetOutboxStatus(InMemoryOutboxStore(world.database))()).pending == 0


def test_the_backoff_doubles_up_to_its_cap() -> None:
    delays = [POLICY.retry_delay(attempts).total_seconds() for attempts in range(7)]
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    assert POLICY.retry_delay(10_000) == timedelta(seconds=30)


async def test_purge_removes_only_rows_sent_before_the_retention(world: ArticlesWorld) -> None:
    await world.writer("alice")
    await relay(world, InMemoryEventPublisher())()
    world.clock.advance(timedelta(days=2))
    await world.writer("bob")
    purge = PurgeOutbox(
        uow=world.uow(), outbox=InMemoryOutboxStore(world.database), clock=world.clock
    )
    assert await purge(PurgeOutboxCommand(retention=timedelta(days=1))) == 1
    assert [m.event.event_type for m in world.database.outbox] == ["user.registered"]
    assert await pending(world) == 1


async def test_replay_sends_again_what_occurred_since(world: ArticlesWorld) -> None:
    await world.writer("alice")
    world.clock.advance(timedelta(hours=1))
    since = world.clock.now()
    await world.writer("bob")
    publisher = InMemoryEventPublisher()
    await relay(world, publisher)()
    replay = ReplayOutbox(uow=world.uow(), outbox=InMemoryOutboxStore(world.database))
    assert await replay(ReplayOutboxCommand(since=since)) == 1
    await relay(world, publisher)()
    assert [m.event.aggregate_id for m in publisher.published][-1] == str(
        (await world.users.get_by_username("bob")).id  # type: ignore[union-attr]
    )
    assert len(publisher.published) == 3


async def test_a_handler_waiting_on_its_database_keeps_the_events_for_a_retry() -> None:
    world = ArticlesWorld()
    await world.writer("alice")
    calls: list[str] = []

    async def database_down(event: Any) -> None:
        calls.append(event.event_type)
        raise TransientDeliveryError("OperationalError")

    bus = InProcessEventBus(database_down, max_attempts=3, retry_base_seconds=0)
    with pytest.raises(EventPublishError):
        await bus.publish(list(world.database.outbox))
    report = await relay(world, bus)()
    assert (report.published, report.failed) == (0, 1)
    assert await pending(world) == 1, "nothing was marked sent or parked"
    assert calls == ["user.registered", "user.registered"], "no attempts were spent"
