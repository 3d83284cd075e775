"""Events ports: the outbox as the relay and operators see it, and exactly-once handling.

`ProcessedEvents` records which consumer handled which event; `TransientDeliveryError`
is what a handler raises when the event must wait.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from application.common.outbox import OutboxMessage


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimedMessage:
    """An unsent message the relay holds, and how many deliveries of it failed before."""

    message: OutboxMessage
    attempts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxStatus:
    """The state of the outbox, for operators."""

    pending: int
    failing: int
    oldest_pending_at: datetime | None
    sent: int
    last_error: str | None


class OutboxStore(Protocol):
    """The outbox as the relay and operators use it, inside the unit of work.

    `claim` locks the rows it returns until the transaction ends, and skips rows another
    transaction holds, so relays running at once never take the same row.
    """

    async def claim(self, *, limit: int, now: datetime) -> Sequence[ClaimedMessage]:
        """Up to `limit` unsent messages due by `now`, oldest first, locked."""
        ...

    async def mark_sent(self, event_ids: Sequence[UUID], *, at: datetime) -> None:
        """Record that these messages were published."""
        ...

    async def record_failure(
        self, event_ids: Sequence[UUID], *, error: str, retry_at: datetime
    ) -> None:
        """Count a failed delivery of these messages; they are due again at `retry_at`."""
        ...

    async def purge_sent(self, *, before: datetime) -> int:
        """Delete messages sent before `before`; return how many went."""
        ...

    async def replay(self, *, since: datetime) -> int:
        """Mark every message that occurred at or after `since` unsent; return how many."""
        ...

    async def status(self) -> OutboxStatus:
        """Count what waits, what failed, and what was sent."""
        ...


class OutboxReader(Protocol):
    """Reads the outbox; the relay that publishes it arrives with the events issue."""

    async def pending(self, *, limit: int) -> Sequence[OutboxMessage]:
        """Return up to `limit` unsent messages, oldest first."""
        ...


class ProcessedEvents(Protocol):
    """Which consumer already handled which event, inside the handler's transaction."""

    async def claim(self, consumer: str, event_id: str, *, at: datetime) -> bool:
        """Record that `consumer` handles `event_id`; False when it already had.

        Written in the transaction of the handler's own changes, so the effect and the
        record commit together: a redelivered event finds the record and is skipped.
        """
        ...

    async def purge_older_than(self, cutoff: datetime, *, limit: int) -> int:
        """Delete up to `limit` of the oldest records made before `cutoff`.

        Returns how many were deleted; fewer than `limit` means none older remain. An event
        redelivered after its record went is handled again.
        """
        ...


class TransientDeliveryError(Exception):
    """Something a handler needs (the database, a broker) is down: the event must wait.

    Buses retry such an event without counting it against its attempts, and never
    dead-letter it for this reason.
    """
