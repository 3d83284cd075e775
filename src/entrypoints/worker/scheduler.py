"""The scheduler: enqueue the periodic jobs on a timer, through the job queue."""

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping

from loguru import logger

from adapters.system.outage_log import OutageLog
from application.audit.sign_audit_checkpoint import SIGN_AUDIT_CHECKPOINT
from application.common.errors import DependencyUnavailableError
from application.common.ports.lease import ExclusiveLease
from application.common.ports.task_queue import TaskQueue
from application.files.collect_file_garbage import COLLECT_FILE_GARBAGE
from entrypoints.config import Settings
from entrypoints.worker.jobs import PERIODIC_JOBS


def periodic_schedule(settings: Settings) -> Mapping[str, float]:
    """Every periodic job and its interval in seconds.

    The purges and the audit log's retention run at the purge interval; the file collection
    and the audit checkpoint at their own.
    """
    schedule = dict.fromkeys(PERIODIC_JOBS, float(settings.scheduler.purge_interval_seconds))
    schedule[COLLECT_FILE_GARBAGE] = float(settings.scheduler.file_garbage_interval_seconds)
    schedule[SIGN_AUDIT_CHECKPOINT] = float(settings.audit.checkpoint_interval_seconds)
    return schedule


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
    idempotent housekeeping, so a restart only repeats work that finds nothing to do. While
    the queue is unreachable, due jobs are tried at every tick and enqueued once it is back;
    the outage and the recovery are logged once each.
    """
    due = dict.fromkeys(schedule, clock())
    enqueued = 0
    outage = OutageLog("scheduler: the job queue", what_waits="due jobs are enqueued on return")
    while not stop.is_set():
        now = clock()
        for job, interval in schedule.items():
            if now >= due[job]:
                try:
                    await queue.enqueue(job, {})
                except DependencyUnavailableError:
                    continue  # the queue logs its own outage and return, once each
                except Exception as exc:  # noqa: BLE001 - try again at the next tick
                    outage.down(exc)
                    continue
                outage.up()
                enqueued += 1
                due[job] = now + interval
                logger.info("enqueued {}; next in {:.0f}s", job, interval)
        await _wait(stop, tick_seconds)
    return enqueued


async def schedule_while_leading(
    queue: TaskQueue,
    schedule: Mapping[str, float],
    lease: ExclusiveLease,
    stop: asyncio.Event,
    *,
    check_seconds: float = 5.0,
    tick_seconds: float = 1.0,
) -> int:
    """Schedule only while holding `lease`, so that one scheduler runs however many start.

    The others stand by and try for the lease every `check_seconds`; the leader checks it
    as often, and stands by again if it lost it (its database connection died). Returns
    how many jobs this scheduler enqueued.
    """
    enqueued = 0
    standing_by = False
    outage = OutageLog("scheduler: the lease's database", what_waits="standing by")
    while not stop.is_set():
        try:
            leading = await lease.try_acquire()
        except DependencyUnavailableError:
            leading = False  # the database's engine logs its outage and return, once each
        except Exception as exc:  # noqa: BLE001 - the database is down: try again later
            outage.down(exc)
            leading = False
        else:
            outage.up()
        if not leading:
            if not standing_by:
                logger.info("another scheduler leads; standing by")
                standing_by = True
            await _wait(stop, check_seconds)
            continue
        standing_by = False
        logger.info("this scheduler leads")
        leading_stop = asyncio.Event()
        watch = asyncio.create_task(_watch(lease, stop, leading_stop, check_seconds))
        try:
            enqueued += await schedule_until_stopped(
                queue, schedule, leading_stop, tick_seconds=tick_seconds
            )
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
    await lease.release()
    return enqueued


async def _watch(
    lease: ExclusiveLease, stop: asyncio.Event, leading_stop: asyncio.Event, every: float
) -> None:
    while not stop.is_set():
        await _wait(stop, every)
        if not stop.is_set() and not await lease.is_held():
            # A database restart ends the session that held it: expected, not an error.
            logger.warning("the scheduler lease was lost; standing by")
            break
    leading_stop.set()


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
