"""Use case: publish again what was already published, for a consumer that lost it."""

from dataclasses import dataclass
from datetime import datetime

from application.audit.capture import audited
from application.common.ports.unit_of_work import UnitOfWork
from application.events.ports import OutboxStore


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayOutboxCommand:
    """Every message that occurred at or after `since` goes out again."""

    since: datetime


@audited("outbox.replay", target="outbox")
class ReplayOutbox:
    """Mark messages unsent so the relay publishes them again; return how many.

    Consumers deduplicate on the event id, so a replay repeats no effect in a consumer
    that had already handled a message; it only reaches those that had not.
    """

    def __init__(self, *, uow: UnitOfWork, outbox: OutboxStore) -> None:
        self._uow = uow
        self._outbox = outbox

    async def __call__(self, command: ReplayOutboxCommand) -> int:
        """Mark in one transaction."""
        async with self._uow:
            count = await self._outbox.replay(since=command.since)
            await self._uow.commit()
        return count
