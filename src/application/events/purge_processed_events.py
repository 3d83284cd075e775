"""Use case: forget which consumer handled which event, once the bus can no longer redeliver it."""

from dataclasses import dataclass
from datetime import timedelta

from application.audit.capture import audited
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.events.ports import ProcessedEvents

PURGE_PROCESSED_EVENTS = "purge_processed_events"
"""The periodic job's name."""

PURGE_BATCH = 5_000
"""Records deleted per transaction, so a large purge never holds long locks."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PurgeProcessedEventsCommand:
    """Keep each record for `retention`, which must exceed how long the bus may redeliver.

    An event redelivered after its record went is handled a second time.
    """

    retention: timedelta


@audited("processed_event.purge", target="processed_event")
class PurgeProcessedEvents:
    """Delete the consumers' records of handled events older than the retention period.

    A batch per transaction, oldest first, until nothing older is left.
    """

    def __init__(self, *, uow: UnitOfWork, processed: ProcessedEvents, clock: Clock) -> None:
        self._uow = uow
        self._processed = processed
        self._clock = clock

    async def __call__(self, command: PurgeProcessedEventsCommand) -> int:
        """Purge until nothing older is left; return how many records went."""
        cutoff = self._clock.now() - command.retention
        purged = 0
        while True:
            async with self._uow:
                batch = await self._processed.purge_older_than(cutoff, limit=PURGE_BATCH)
                await self._uow.commit()
            purged += batch
            if batch < PURGE_BATCH:
                return purged
