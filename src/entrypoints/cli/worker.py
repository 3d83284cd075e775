"""`portico worker`: the background loops, beside the API processes."""

import asyncio
import signal
from typing import Annotated

import typer
from loguru import logger

from entrypoints.bootstrap import (
    DatabaseUnreachableError,
    ensure_database_reachable,
    resolved_database,
)
from entrypoints.cli.common import fail, settings_or_exit, stop_on_signals
from entrypoints.cli.exit_codes import ExitCode
from entrypoints.config import Settings
from entrypoints.ioc import make_container
from entrypoints.worker.relay import relay_until_stopped


def worker(
    *,
    relay: Annotated[
        bool, typer.Option("--relay/--no-relay", help="Publish the outbox to the event bus.")
    ] = True,
) -> None:
    """Run the background work until SIGINT or SIGTERM, then finish the batch and exit 0.

    The relay publishes the outbox to Kafka when KAFKA_BOOTSTRAP_SERVERS is set, else to
    the in-process bus. Several workers may run at once: each claims its own rows.
    """
    stop_on_signals()
    settings = settings_or_exit()
    if not relay:
        fail("nothing to run: every part is switched off", ExitCode.CONFIGURATION)
    with resolved_database(settings) as resolved:
        try:
            ensure_database_reachable(resolved)
        except DatabaseUnreachableError as exc:
            fail(str(exc), ExitCode.DEPENDENCY_UNAVAILABLE)
        published = asyncio.run(_run(resolved))
    logger.info("worker stopped after publishing {} events", published)


async def _run(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    container = make_container(settings)
    logger.info("worker started: outbox relay")
    try:
        return await relay_until_stopped(
            container, poll_interval_seconds=settings.outbox.poll_interval_seconds, stop=stop
        )
    finally:
        await container.close()
