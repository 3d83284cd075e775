"""Recording how a delivery went, through a database outage, without sending it again."""

import asyncio
import logging
from datetime import datetime
from uuid import UUID

from application.common.errors import DependencyUnavailableError
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.notifications.delivery_policy import DeliverySweepPolicy
from application.notifications.ports import DeliveryLog, DeliveryStatus
from domain.notifications.notification import Channel

_log = logging.getLogger(__name__)


class DeliveryOutcomes:
    """Records a delivery's outcome once, waiting out a database outage while its claim holds.

    Why: the message has already gone to the channel when its outcome is recorded. If the
    run gave up at the first failed write, its claim would go stale and the sweep would
    send the message again. So a write that fails because the database is unavailable
    (`DependencyUnavailableError`, including a connection lost before or during the
    commit) is tried again, with a doubling wait, until `DeliverySweepPolicy`'s
    `recording_deadline`: long enough for a restart or a failover, and over before
    anyone else may take the claim. While the run is trying, the sweep and other runs
    leave the delivery alone; once it is recorded, they never send it.

    A write whose commit may have gone through (`OutcomeUnknownError`) is read back before
    it is written again, so an outcome is counted as one attempt however many tries it
    took. A run that reaches the deadline with the database still away raises; its claim
    then goes stale and the sweep runs the delivery again, so only an outage longer than
    half of `stale_after` can repeat a message (logged at ERROR when it may).
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        deliveries: DeliveryLog,
        clock: Clock,
        policy: DeliverySweepPolicy,
    ) -> None:
        self._uow = uow
        self._deliveries = deliveries
        self._clock = clock
        self._policy = policy

    async def record(
        self,
        notification_id: UUID,
        channel: Channel,
        status: DeliveryStatus,
        *,
        detail: str | None,
        claimed_at: datetime,
    ) -> None:
        """Store the outcome of the run that claimed the delivery at `claimed_at`."""
        at = self._clock.now()
        deadline = self._policy.recording_deadline(claimed_at)
        wait = self._policy.first_retry_wait.total_seconds()
        tries = 0
        while True:
            tries += 1
            try:
                await self._write(notification_id, channel, status, detail, at=at, again=tries > 1)
            except DependencyUnavailableError as exc:
                now = self._clock.now()
                if now >= deadline:
                    _log.error(
                        "could not record that notification %s was %s by %s before its "
                        "claim runs out (%s); the sweep will run it again%s",
                        notification_id,
                        status.value,
                        channel.value,
                        type(exc).__name__,
                        ", sending it twice" if status is DeliveryStatus.SENT else "",
                    )
                    raise
                if tries == 1:
                    _log.warning(
                        "recording that notification %s was %s by %s waits for the database (%s)",
                        notification_id,
                        status.value,
                        channel.value,
                        type(exc).__name__,
                    )
                await asyncio.sleep(min(wait, (deadline - now).total_seconds()))
                wait = min(wait * 2, self._policy.longest_retry_wait.total_seconds())
            else:
                if tries > 1:
                    _log.info(
                        "recorded that notification %s was %s by %s after %d tries",
                        notification_id,
                        status.value,
                        channel.value,
                        tries,
                    )
                return

    async def _write(
        self,
        notification_id: UUID,
        channel: Channel,
        status: DeliveryStatus,
        detail: str | None,
        *,
        at: datetime,
        again: bool,
    ) -> None:
        async with self._uow:
            if again:
                current = await self._deliveries.get(notification_id, channel)
                if current is not None and (current.status, current.updated_at) == (status, at):
                    return
            await self._deliveries.record(notification_id, channel, status, at=at, detail=detail)
            await self._uow.commit()
