"""The scheduler: enqueue the periodic jobs on a timer, through the job queue."""

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping

from loguru import logger

from application.ports.messaging import TaskQueue
from entrypoints.config import Settings
from entrypoints.worker.jobs import PERIODIC_JOBS


def periodic_schedule(settings: Settings) -> Mapping[str, float]:
    """Every periodic job and its interval in seconds."""
    return dict.fromkeys(PERIODIC_JOBS, float(settings.scheduler.purge_interval_seconds))


async def schedule_until_stopped(
    queue: TaskQueue,
    schedule: Mapping[str, float],
    stop: asyncio.Event,
    *,
    clock: Callable[[], float] = time.monotonic,
    tick_seconds: float = 1.0,
) -> int:
    """Enqueue each job at start and then every interval, until `stop`; return how many.

    The jobs run wherever the queue runs them (a worker with JOBS_QUEUE=redis). They are
    idempotent housekeeping, so a second scheduler, or a restart, only repeats work that
    finds nothing to do; still, run one scheduler.
    """
    due = dict.fromkeys(schedule, clock())
    enqueued = 0
    while not stop.is_set():
        now = clock()
        for job, interval in schedule.items():
            if now >= due[job]:
                try:
                    await queue.enqueue(job, {})
                except Exception as exc:  # noqa: BLE001 - try again at the next tick
                    logger.error("could not enqueue {}: {}", job, exc)
                    continue
                enqueued += 1
                due[job] = now + interval
                logger.info("enqueued {}; next in {:.0f}s", job, interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=tick_seconds)
    return enqueued
