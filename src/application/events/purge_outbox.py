"""Use case: delete outbox rows that were sent long enough ago."""

from dataclasses import dataclass
from datetime import timedelta

from application.audit.capture import audited
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.events.ports import OutboxStore

PURGE_SENT_EVENTS = "purge_sent_events"
"""The periodic job's name."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PurgeOutboxCommand:
    """Keep sent rows for `retention`; unsent rows are never purged."""

    retention: timedelta


@audited("outbox.purge", target="outbox")
class PurgeOutbox:
    """Delete sent outbox rows older than the retention period; return how many went."""

    def __init__(self, *, uow: UnitOfWork, outbox: OutboxStore, clock: Clock) -> None:
        self._uow = uow
        self._outbox = outbox
        self._clock = clock

    async def __call__(self, command: PurgeOutboxCommand) -> int:
        """Purge in one transaction."""
        async with self._uow:
            purged = await self._outbox.purge_sent(before=self._clock.now() - command.retention)
            await self._uow.commit()
        return purged
