"""The outbox relay and the delivery sweep, run inside an API process."""

import asyncio

from dishka import AsyncContainer
from loguru import logger

from entrypoints.config.settings import Settings
from entrypoints.worker.relay import (
    relay_until_stopped,
    seal_audit_until_stopped,
    sweep_deliveries_until_stopped,
)


class BackgroundRelay:
    """The outbox relay inside an API process, for deployments without a worker.

    It runs when OUTBOX_RELAY_IN_API says so, and by default only when the bus is
    in-process (no Kafka, EVENT_BUS=auto): then and publishing runs the event handlers, so
    `make run` needs nothing installed. With several API processes each relays; their
    claims never overlap. The sweep for lost delivery jobs, and the sealer of audit
    entries, run beside it.
    """

    def __init__(self, container: AsyncContainer, settings: Settings) -> None:
        self._container = container
        self._enabled = settings.api_relays_outbox
        self._poll_interval_seconds = settings.outbox.poll_interval_seconds
        self._sweep_interval_seconds = settings.notifications.delivery_sweep_interval_seconds
        self._seal_interval_seconds = settings.audit.seal_interval_seconds
        self._stop = asyncio.Event()
        self._task: asyncio.Task[int] | None = None
        self._sweep: asyncio.Task[int] | None = None
        self._sealer: asyncio.Task[int] | None = None

    def start(self) -> None:
        """Start relaying in the background, if enabled."""
        if self._enabled and self._task is None:
            self._task = asyncio.create_task(
                relay_until_stopped(
                    self._container,
                    poll_interval_seconds=self._poll_interval_seconds,
                    stop=self._stop,
                ),
                name="outbox-relay",
            )
            self._sweep = asyncio.create_task(
                sweep_deliveries_until_stopped(
                    self._container,
                    interval_seconds=self._sweep_interval_seconds,
                    stop=self._stop,
                ),
                name="delivery-sweep",
            )
            self._sealer = asyncio.create_task(
                seal_audit_until_stopped(
                    self._container,
                    interval_seconds=self._seal_interval_seconds,
                    stop=self._stop,
                ),
                name="audit-sealer",
            )
            logger.info("outbox relay running in this process")

    async def stop(self) -> None:
        """Let the batch in flight finish, then stop."""
        if self._task is None:
            return
        self._stop.set()
        try:
            await asyncio.wait_for(
                asyncio.gather(self._task, *filter(None, [self._sweep, self._sealer])), timeout=10
            )
        except TimeoutError:
            logger.warning("outbox relay did not stop in 10 s; its batch will be relayed again")
        except Exception:  # noqa: BLE001 - shutdown goes on whatever the relay did
            logger.exception("outbox relay ended with an error")
