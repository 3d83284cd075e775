"""`portico worker` and `portico scheduler`: the background processes beside the API."""

import contextlib
import signal
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Annotated, Any

import typer

from entrypoints.cli.exit_codes import ExitCode
from entrypoints.cli.tree import fail

if TYPE_CHECKING:
    import asyncio

    from dishka import AsyncContainer

    from entrypoints.config import Settings

SCHEDULER_LEASE = "portico.scheduler"
"""The advisory lock that makes one scheduler lead however many run."""


def worker(
    *,
    relay: Annotated[
        bool, typer.Option("--relay/--no-relay", help="Publish the outbox to the event bus.")
    ] = True,
    consumers: Annotated[
        bool,
        typer.Option("--consumers/--no-consumers", help="Hand bus events to their handlers."),
    ] = True,
    jobs: Annotated[
        bool, typer.Option("--jobs/--no-jobs", help="Run background jobs from Redis.")
    ] = True,
) -> None:
    """Run the background work until SIGINT or SIGTERM, then finish what is in hand, exit 0.

    The relay publishes the outbox to Kafka when KAFKA_BOOTSTRAP_SERVERS is set, else to
    the in-process bus; several workers may relay at once, each claims its own rows. The
    consumers read Kafka in the KAFKA_CONSUMER_GROUP group and run the registered handlers
    once per event. With JOBS_QUEUE=redis it runs the background jobs, acknowledging each
    when done. Flags switch the parts off, so they can be scaled apart. With METRICS_MODE
    set, it answers `GET /metrics` on METRICS_WORKER_PORT.
    """
    import asyncio

    from loguru import logger

    from entrypoints.cli.common import (
        database_ready,
        settings_or_exit,
        stop_on_signals,
        with_signing_secret_logged,
    )
    from entrypoints.tracing import WORKER_SERVICE, start_tracing_if_requested

    stop_on_signals()
    settings = settings_or_exit()
    if not (relay or consumers or jobs):
        fail(
            "nothing to run: every part is switched off; "
            "leave out one of --no-relay, --no-consumers, --no-jobs",
            ExitCode.CONFIGURATION,
        )
    start_tracing_if_requested(WORKER_SERVICE)
    # its jobs sign audit checkpoints with the server's key
    with database_ready(settings) as resolved:
        signing = with_signing_secret_logged(resolved)
        asyncio.run(_run(signing, relay=relay, consumers=consumers, jobs=jobs))
    logger.info("worker stopped")


def stop_event_on_signals() -> "asyncio.Event":
    """An event that SIGINT or SIGTERM sets, so the loops can finish what is in hand."""
    import asyncio

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def _run(settings: "Settings", *, relay: bool, consumers: bool, jobs: bool) -> None:
    import asyncio

    from loguru import logger

    from entrypoints.http.metrics.runtime import ProcessMetrics
    from entrypoints.ioc import make_container
    from entrypoints.worker.receiver import run_jobs_until_stopped
    from entrypoints.worker.relay import (
        relay_until_stopped,
        seal_audit_until_stopped,
        sweep_deliveries_until_stopped,
    )

    stop = stop_event_on_signals()
    container = make_container(settings)
    watched = ProcessMetrics.for_worker(settings)
    try:
        await watched.start(container)
    except OSError as exc:
        await container.close()
        fail(
            f"METRICS_WORKER_PORT {settings.metrics.worker_port} cannot be served "
            f"({exc.strerror or exc}); stop what listens there, or set another port",
            ExitCode.DEPENDENCY_UNAVAILABLE,
        )
    parts: list[Coroutine[Any, Any, Any]] = []
    if relay:
        parts.append(
            relay_until_stopped(
                container, poll_interval_seconds=settings.outbox.poll_interval_seconds, stop=stop
            )
        )
        parts.append(
            sweep_deliveries_until_stopped(
                container,
                interval_seconds=settings.notifications.delivery_sweep_interval_seconds,
                stop=stop,
            )
        )
        parts.append(
            seal_audit_until_stopped(
                container, interval_seconds=settings.audit.seal_interval_seconds, stop=stop
            )
        )
    if consumers:
        parts.append(_supervised(container, settings, stop))
    if jobs:
        parts.append(run_jobs_until_stopped(container, settings, stop))
    names = [
        name for name, on in (("relay", relay), ("consumers", consumers), ("jobs", jobs)) if on
    ]
    logger.info("worker started: {}", ", ".join(names))
    if settings.cache.redis_url is None and (consumers or jobs):
        logger.warning(
            "REDIS_URL is not set: live notifications delivered by this worker reach no "
            "socket (they stay in each user's list); set REDIS_URL to fan them out"
        )
    try:
        await asyncio.gather(*parts)
    finally:
        await watched.stop()
        await container.close()


async def _supervised(
    container: "AsyncContainer", settings: "Settings", stop: "asyncio.Event"
) -> None:
    """Keep the consumer loop running: after a failure (the broker down), start it again."""
    import asyncio

    from aiokafka.errors import KafkaError
    from loguru import logger

    from entrypoints.worker.consumers import consume_until_stopped
    from entrypoints.worker.handler_table import HandlerTable

    failures = 0
    while not stop.is_set():
        try:
            handlers = await container.get(HandlerTable)
            await consume_until_stopped(container, settings, handlers, stop)
            failures = 0
        except (KafkaError, OSError) as exc:
            failures += 1
            logger.error("consumers stopped ({}); restarting", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(2.0**failures, 30.0))


def scheduler() -> None:
    """Enqueue the periodic housekeeping jobs until SIGINT or SIGTERM, then exit 0.

    Every SCHEDULER_PURGE_INTERVAL_SECONDS it enqueues the purge of ended sessions and used
    tokens, of sent outbox rows older than OUTBOX_RETENTION_SECONDS, of the consumers'
    records of handled events older than PROCESSED_EVENTS_RETENTION_SECONDS, of
    notifications older than NOTIFICATIONS_RETENTION_DAYS, and the archiving of audit
    entries older than AUDIT_RETENTION_DAYS; every AUDIT_CHECKPOINT_INTERVAL_SECONDS, a
    signed checkpoint of the audit chain. Several may run: one leads (a PostgreSQL advisory
    lock), the others stand by and take over if it dies.
    """
    import asyncio

    from loguru import logger

    from entrypoints.cli.common import (
        database_ready,
        settings_or_exit,
        stop_on_signals,
        with_signing_secret_logged,
    )

    stop_on_signals()
    # With the in-process queue the jobs run here, and the checkpoint job signs.
    with database_ready(settings_or_exit()) as resolved:
        count = asyncio.run(_schedule(with_signing_secret_logged(resolved)))
    logger.info("scheduler stopped after enqueueing {} jobs", count)


async def _schedule(settings: "Settings") -> int:

    from sqlalchemy.ext.asyncio import AsyncEngine

    from adapters.sqlalchemy.lease import PostgresAdvisoryLease
    from application.common.ports.task_queue import TaskQueue
    from entrypoints.ioc import make_container
    from entrypoints.worker.scheduler import periodic_schedule, schedule_while_leading

    stop = stop_event_on_signals()
    container = make_container(settings)
    try:
        queue = await container.get(TaskQueue)
        lease = PostgresAdvisoryLease(await container.get(AsyncEngine), name=SCHEDULER_LEASE)
        return await schedule_while_leading(queue, periodic_schedule(settings), lease, stop)
    finally:
        await container.close()
