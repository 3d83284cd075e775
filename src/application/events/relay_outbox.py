"""Use case: publish one batch of the outbox."""

from dataclasses import dataclass
from datetime import timedelta

from application.audit.capture import not_audited
from application.common.ports.clock import Clock
from application.common.ports.events import EventPublisher, EventPublishError
from application.common.ports.unit_of_work import UnitOfWork
from application.events.ports import OutboxStore


@dataclass(frozen=True, slots=True, kw_only=True)
class RelayPolicy:
    """How big a batch is, and how retries back off: base * 2**attempts, capped."""

    batch_size: int
    retry_base: timedelta
    retry_max: timedelta

    def retry_delay(self, attempts: int) -> timedelta:
        """The wait before the next delivery of a message that failed `attempts` times."""
        delay: timedelta = self.retry_base * (2 ** min(attempts, 30))
        return min(delay, self.retry_max)


@dataclass(frozen=True, slots=True, kw_only=True)
class RelayReport:
    """What one batch did: published, failed (kept for a retry), and the error if any."""

    published: int
    failed: int
    error: str | None = None


@not_audited(
    "bookkeeping: moves committed events to the bus, batch after batch; the changes that"
    " raised them have their entries"
)
class RelayOutbox:
    """Publish the oldest due messages of the outbox, then mark them sent.

    Rules:
    - The batch is claimed with row locks that other relays skip, so several relays can
      run at once without sending a row twice in the normal case.
    - Marking happens only after the bus accepted the whole batch, in the claim's
      transaction: a relay that dies in between leaves the rows unsent, and they are
      published again (at-least-once; consumers deduplicate on the event id).
    - When publishing fails, every row of the batch records the failure and waits with an
      exponential backoff; no row is ever dropped.
    - The claim's transaction is committed even when nothing came back, so what the store
      recorded while claiming (rows it could not read, parked) is kept.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        outbox: OutboxStore,
        publisher: EventPublisher,
        clock: Clock,
        policy: RelayPolicy,
    ) -> None:
        self._uow = uow
        self._outbox = outbox
        self._publisher = publisher
        self._clock = clock
        self._policy = policy

    async def __call__(self) -> RelayReport:
        """Relay one batch; an empty report means nothing was due."""
        async with self._uow:
            now = self._clock.now()
            claimed = await self._outbox.claim(limit=self._policy.batch_size, now=now)
            if not claimed:
                await self._uow.commit()
                return RelayReport(published=0, failed=0)
            event_ids = [item.message.event_id for item in claimed]
            try:
                await self._publisher.publish([item.message for item in claimed])
            except EventPublishError as exc:
                attempts = max(item.attempts for item in claimed) + 1
                error = str(exc) or type(exc).__name__
                await self._outbox.record_failure(
                    event_ids, error=error[:500], retry_at=now + self._policy.retry_delay(attempts)
                )
                await self._uow.commit()
                return RelayReport(published=0, failed=len(claimed), error=error)
            await self._outbox.mark_sent(event_ids, at=self._clock.now())
            await self._uow.commit()
            return RelayReport(published=len(claimed), failed=0)
