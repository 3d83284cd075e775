"""The outbox relay loop: publish what is due, sleep when nothing is, stop when told."""

import asyncio
import contextlib

from dishka import AsyncContainer
from loguru import logger

from adapters.system.outage_log import OutageLog
from application.audit.seal_audit_entries import BATCH as SEAL_BATCH
from application.audit.seal_audit_entries import SealAuditEntries
from application.common.errors import DependencyUnavailableError
from application.common.ports.metrics import RelayMetrics
from application.events.relay_outbox import RelayOutbox, RelayPolicy
from application.notifications.requeue_stale_deliveries import (
    REQUEUE_BATCH,
    RequeueStaleDeliveries,
)

_MAX_WAIT_SECONDS = 5.0
"""The longest wait between attempts while the database is down: recovery within seconds."""


async def relay_until_stopped(
    container: AsyncContainer, *, poll_interval_seconds: float, stop: asyncio.Event
) -> int:
    """Relay batches until `stop` is set; return how many events were published.

    A full batch is followed at once by the next. An empty one, a failed publish (the
    rows wait for their backoff) or an unreachable database waits `poll_interval_seconds`,
    doubling up to `_MAX_WAIT_SECONDS` while the database stays down, without ever leaving
    the loop; an outage of the bus is logged once, and its end once. A batch in flight when
    `stop` is set finishes: it is either marked sent or rolled back whole, so rows it had
    claimed when the database went away are relayed once it is back. Every batch's
    published and failed events are counted (`RelayMetrics`).
    """
    policy = await container.get(RelayPolicy)
    metrics = await container.get(RelayMetrics)
    published = 0
    failed_in_a_row = 0
    bus = OutageLog("outbox relay: the event bus", what_waits="events wait in the outbox")
    while not stop.is_set():
        wait = poll_interval_seconds
        try:
            async with container() as request:
                relay = await request.get(RelayOutbox)
                report = await relay()
            failed_in_a_row = 0
        except (DependencyUnavailableError, OSError):
            # The database's outage and recovery are logged once by its engine.
            failed_in_a_row += 1
            wait = min(poll_interval_seconds * 2**failed_in_a_row, _MAX_WAIT_SECONDS)
        except Exception:  # noqa: BLE001 - the loop must outlive any one batch
            failed_in_a_row += 1
            wait = min(poll_interval_seconds * 2**failed_in_a_row, _MAX_WAIT_SECONDS)
            logger.exception("outbox relay: a batch failed unexpectedly; retrying")
        else:
            published += report.published
            metrics.batch_relayed(published=report.published, failed=report.failed)
            if report.error is not None:
                bus.down(f"publishing {report.failed} events failed: {report.error}")
            else:
                bus.up()
                if report.published == policy.batch_size:
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
        except (DependencyUnavailableError, OSError):
            continue
        except Exception:  # noqa: BLE001 - the sweep must outlive any one failure
            logger.exception("delivery sweep failed; trying again in {:.0f}s", interval_seconds)
            continue
        if found:
            requeued += found
            logger.warning("enqueued {} deliveries again whose jobs were lost", found)
        if found >= REQUEUE_BATCH:
            wait = 0.0
    return requeued


async def seal_audit_until_stopped(
    container: AsyncContainer, *, interval_seconds: float, stop: asyncio.Event
) -> int:
    """Chain waiting audit entries until `stop` is set; return how many were sealed.

    It runs beside the relay, wherever that runs. A full batch is followed at once by the
    next; otherwise it waits `interval_seconds`, doubling up to `_MAX_WAIT_SECONDS` while the
    database is down. Several processes may run it: only one seals at a time.
    """
    sealed = 0
    failed_in_a_row = 0
    while not stop.is_set():
        wait = interval_seconds
        try:
            async with container() as request:
                seal = await request.get(SealAuditEntries)
                count = await seal()
            failed_in_a_row = 0
        except (DependencyUnavailableError, OSError):
            failed_in_a_row += 1
            wait = min(interval_seconds * 2**failed_in_a_row, _MAX_WAIT_SECONDS)
        except Exception:  # noqa: BLE001 - the loop must outlive any one batch
            failed_in_a_row += 1
            wait = min(interval_seconds * 2**failed_in_a_row, _MAX_WAIT_SECONDS)
            logger.exception("audit sealer: a batch failed unexpectedly; retrying")
        else:
            sealed += count
            if count == SEAL_BATCH:
                continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)
    return sealed
