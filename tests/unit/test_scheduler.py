"""The scheduler enqueues each periodic job at start and then once per interval."""

import asyncio
from collections.abc import Callable, Mapping

import pytest

from adapters.memory.lease import InMemoryLease
from application.events.purge_processed_events import PURGE_PROCESSED_EVENTS
from entrypoints.config import load_settings
from entrypoints.ioc import make_container
from entrypoints.ioc.memory import InMemoryPersistenceProvider
from entrypoints.worker.jobs import PERIODIC_JOBS, run_job
from entrypoints.worker.scheduler import (
    periodic_schedule,
    schedule_until_stopped,
    schedule_while_leading,
)


class RecordingQueue:
    """Our own port, recording what was enqueued."""

    def __init__(self) -> None:
        self.jobs: list[str] = []

    async def enqueue(self, task: str, payload: Mapping[str, str]) -> None:
        self.jobs.append(task)


async def test_jobs_are_enqueued_at_start_then_every_interval() -> None:
    now = [0.0]
    queue = RecordingQueue()
    stop = asyncio.Event()

    async def advance() -> None:
        for moment in (5.0, 10.0, 25.0, 30.0):
            await asyncio.sleep(0.02)
            now[0] = moment
        await asyncio.sleep(0.02)
        stop.set()

    mover = asyncio.create_task(advance())
    count = await schedule_until_stopped(
        queue, {"a": 10.0, "b": 30.0}, stop, clock=lambda: now[0], tick_seconds=0.005
    )
    await mover
    assert queue.jobs == ["a", "b", "a", "a", "b"]
    assert count == 5


async def test_of_two_schedulers_one_leads_and_the_other_takes_over_when_it_stops() -> None:
    registry: set[str] = set()
    first_queue, second_queue = RecordingQueue(), RecordingQueue()
    first_stop, second_stop = asyncio.Event(), asyncio.Event()

    def scheduler(queue: RecordingQueue, stop: asyncio.Event) -> "asyncio.Task[int]":
        lease = InMemoryLease(registry, name="scheduler")
        return asyncio.create_task(
            schedule_while_leading(queue, {"a": 3600.0}, lease, stop, check_seconds=0.01)
        )

    first = scheduler(first_queue, first_stop)
    await eventually(lambda: first_queue.jobs == ["a"])
    second = scheduler(second_queue, second_stop)
    await asyncio.sleep(0.1)
    assert first_queue.jobs == ["a"]
    assert second_queue.jobs == [], "the second scheduler enqueued while the first led"
    first_stop.set()
    assert await first == 1
    await eventually(lambda: second_queue.jobs == ["a"])
    second_stop.set()
    assert await second == 1
    assert registry == set()


async def eventually(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Wait until `condition` holds; fail after `within` seconds (a slow machine only waits)."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - the schedulers run beside this loop
            await asyncio.sleep(0.005)


class LosingLease(InMemoryLease):
    """Our own port's memory twin, whose holder's connection dies after a while."""

    def __init__(self, registry: set[str]) -> None:
        super().__init__(registry, name="scheduler")
        self.lost = False
        self.tries_after_loss = 0

    async def is_held(self) -> bool:
        return not self.lost and await super().is_held()

    async def try_acquire(self) -> bool:
        if self.lost:
            self.tries_after_loss += 1
            return False
        return await super().try_acquire()


async def test_a_leader_that_loses_its_lease_stops_enqueueing() -> None:
    queue = RecordingQueue()
    lease = LosingLease(set())
    stop = asyncio.Event()
    running = asyncio.create_task(
        schedule_while_leading(
            queue, {"a": 0.02}, lease, stop, check_seconds=0.01, tick_seconds=0.005
        )
    )
    await eventually(lambda: len(queue.jobs) >= 2)
    lease.lost = True
    await eventually(lambda: lease.tries_after_loss > 0)
    enqueued_when_lost = len(queue.jobs)
    await asyncio.sleep(0.1)
    stop.set()
    await running
    assert len(queue.jobs) == enqueued_when_lost, "it kept enqueueing without the lease"


def test_every_purge_is_scheduled_at_the_purge_interval_and_the_others_at_their_own() -> None:
    settings = load_settings(
        {
            "SCHEDULER_PURGE_INTERVAL_SECONDS": "600",
            "SCHEDULER_FILE_GARBAGE_INTERVAL_SECONDS": "900",
            "AUDIT_CHECKPOINT_INTERVAL_SECONDS": "120",
        },
        env_file=None,
    )
    assert periodic_schedule(settings) == {
        "purge_ended_credentials": 600.0,
        "purge_sent_events": 600.0,
        "purge_processed_events": 600.0,
        "purge_old_notifications": 600.0,
        "collect_file_garbage": 900.0,
        "sign_audit_checkpoint": 120.0,
        "archive_audit_entries": 600.0,
    }


async def test_the_scheduler_enqueues_the_purge_of_processed_events_at_start() -> None:
    queue = RecordingQueue()
    stop = asyncio.Event()
    schedule = periodic_schedule(load_settings({}, env_file=None))
    running = asyncio.create_task(schedule_until_stopped(queue, schedule, stop))
    await eventually(lambda: len(queue.jobs) == len(PERIODIC_JOBS))
    stop.set()
    await running
    assert PURGE_PROCESSED_EVENTS in queue.jobs
    assert sorted(queue.jobs) == sorted(PERIODIC_JOBS)


@pytest.mark.parametrize("job", PERIODIC_JOBS)
async def test_each_periodic_job_runs_its_use_case_from_the_container(job: str) -> None:
    """With the settings `portico worker` runs with: its signing keys resolved."""
    settings = load_settings(
        {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "JWT_SECRET": "j" * 48},
        env_file=None,
    )
    container = make_container(settings, InMemoryPersistenceProvider())
    try:
        async with container() as request:
            await run_job(request, job, {})
    finally:
        await container.close()
