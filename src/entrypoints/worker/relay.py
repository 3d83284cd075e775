"""The outbox relay loop: publish what is due, sleep when nothing is, stop when told."""

import asyncio
import contextlib

from dishka import AsyncContainer
from loguru import logger
from sqlalchemy.exc import SQLAlchemyError

from application.events.relay_outbox import RelayOutbox, RelayPolicy
from application.notifications.requeue_stale_deliveries import (
    REQUEUE_BATCH,
    RequeueStaleDeliveries,
)


async def relay_until_stopped(
    container: AsyncContainer, *, poll_interval_seconds: float, stop: asyncio.Event
) -> int:
    """Relay batches until `stop` is set; return how many events were published.

    A full batch is followed at once by the next. An empty one, a failed publish (the
    rows wait for their backoff) or an unreachable database waits `poll_interval_seconds`,
    or longer while the database stays down, without ever leaving the loop. A batch in
    flight when `stop` is set finishes: it is either marked sent or rolled back whole.
    """
    policy = await container.get(RelayPolicy)
    published = 0
    database_down_for = 0
    while not stop.is_set():
        wait = poll_interval_seconds
        try:
            async with container() as request:
                relay = await request.get(RelayOutbox)
                report = await relay()
            database_down_for = 0
        except (SQLAlchemyError, OSError) as exc:
            database_down_for += 1
            wait = min(poll_interval_seconds * 2**database_down_for, 30.0)
            logger.error("outbox relay: database unavailable ({}); retrying", type(exc).__name__)
        except Exception:  # noqa: BLE001 - the loop must outlive any one batch
            database_down_for += 1
            wait = min(poll_interval_seconds * 2**database_down_for, 30.0)
            logger.exception("outbox relay: a batch failed unexpectedly; retrying")
        else:
            published += report.published
            if report.error is not None:
                logger.warning(
                    "outbox relay: publishing {} events failed ({}); they wait for a retry",
                    report.failed,
                    report.error,
                )
            elif report.published == policy.batch_size:
                continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)
    return published


async def sweep_deliveries_until_stopped(
    container: AsyncContainer, *, interval_seconds: float, stop: asyncio.Event
) -> int:
    """Every `interval_seconds`, enqueue again the deliveries whose jobs were lost.

    It runs beside the relay (in `portico worker`, and in the API process when that relays),
    since both move durable intent out of the database. Return how many were enqueued.
    """
    requeued = 0
    wait = interval_seconds
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)
        if stop.is_set():
            break
        wait = interval_seconds
        try:
            async with container() as request:
                sweep = await request.get(RequeueStaleDeliveries)
                found = await sweep()
        except Exception:  # noqa: BLE001 - the sweep must outlive any one failure
            logger.exception("delivery sweep failed; trying again in {:.0f}s", interval_seconds)
            continue
        if found:
            requeued += found
            logger.warning("enqueued {} deliveries again whose jobs were lost", found)
        if found >= REQUEUE_BATCH:
            wait = 0.0
    return requeued
