"""Use case: hand one event to one consumer, exactly once in effect."""

from dataclasses import dataclass

from application.audit.capture import not_audited
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.events.event_handler import EventHandler
from application.events.ports import ProcessedEvents
from application.events.received_event import ReceivedEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class HandleEventCommand:
    """Which event, for which handler, deduplicated under which consumer name."""

    event: ReceivedEvent
    consumer: str
    handler: EventHandler


@not_audited(
    "bookkeeping: records that a consumer handled an event; whatever its handler changes"
    " is declared by the handler's own use cases"
)
class HandleEvent:
    """Run a handler for an event unless its consumer already did.

    The caller builds the handler for this event on this use case's unit of work, so the
    unit of work its use cases open joins the transaction opened here.

    Rules:
    - The record that the consumer handled the event is written first, in the transaction
      the handler's own changes then join, so both commit together or neither does.
    - A redelivered event finds the record and is skipped: delivery is at-least-once,
      the effect happens once.
    - A handler that raises rolls everything back; the caller retries or dead-letters.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        processed: ProcessedEvents,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._processed = processed
        self._clock = clock

    async def __call__(self, command: HandleEventCommand) -> bool:
        """Handle the event; False when this consumer had already handled it."""
        async with self._uow:
            first_time = await self._processed.claim(
                command.consumer, command.event.event_id, at=self._clock.now()
            )
            if not first_time:
                return False
            await command.handler(command.event)
            await self._uow.commit()
        return True
