"""The envelope in which a domain event waits in the outbox."""

from dataclasses import dataclass
from uuid import UUID

from domain.shared.events import DomainEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxMessage:
    """A domain event with the identity and context it gets when it is stored.

    `event_id` is what consumers deduplicate on; `request_id` ties the event to the request
    (or job) that caused it, for tracing. `traceparent` is the W3C trace context the event
    was stored in, when that was traced: the bus carries it on, so the relay's and the
    consumers' spans join the trace of the request that raised the event.
    """

    event_id: UUID
    event: DomainEvent
    request_id: str | None
    traceparent: str | None = None

    @property
    def event_type(self) -> str:
        """The stable name of the event, such as ``user.registered``."""
        return self.event.event_type
