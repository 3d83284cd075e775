"""The scheduler enqueues each periodic job at start and then once per interval."""

import asyncio
from collections.abc import Mapping

from entrypoints.worker.scheduler import schedule_until_stopped


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
