"""The job loop: taskiq's receiver on the Redis stream, stopped gracefully."""

import asyncio

from dishka import AsyncContainer
from dishka.integrations.taskiq import setup_dishka
from loguru import logger
from taskiq import AsyncBroker
from taskiq.acks import AcknowledgeType
from taskiq.receiver import Receiver

from entrypoints.config import Settings


async def run_jobs_until_stopped(
    container: AsyncContainer, settings: Settings, stop: asyncio.Event
) -> None:
    """Run jobs from Redis until `stop` is set, then wait for the jobs in hand to finish.

    A job is acknowledged when it finished (`WHEN_EXECUTED`). One still running when the
    grace period ends is abandoned unacknowledged, and another worker picks it up after
    JOBS_REDELIVER_AFTER_SECONDS: handed back, not lost.
    """
    if settings.queue.backend != "redis":
        logger.info("jobs run in the processes that enqueue them (JOBS_QUEUE=in-process)")
        await stop.wait()
        return
    broker = await container.get(AsyncBroker)
    setup_dishka(container, broker)
    # taskiq's Receiver is not exported: tests/unit/test_reliances_taskiq.py
    receiver = Receiver(
        broker,
        max_async_tasks=settings.queue.concurrency,
        run_startup=False,
        ack_type=AcknowledgeType.WHEN_EXECUTED,
        wait_tasks_timeout=settings.app.shutdown_timeout_seconds,
        propagate_exceptions=False,
    )
    logger.info("running jobs from {}", settings.queue.stream)
    await receiver.listen(stop)
