"""The base class for aggregates, which raise events as their state changes."""

from domain.shared.events import DomainEvent


class AggregateRoot:
    """An aggregate keeps the events it raised until the unit of work collects them."""

    __slots__ = ("_pending_events",)

    def __init__(self) -> None:
        self._pending_events: list[DomainEvent] = []

    def record(self, event: DomainEvent) -> None:
        """Remember an event; it is published only if the transaction commits."""
        self._pending_events.append(event)

    def pull_events(self) -> list[DomainEvent]:
        """Hand over the pending events and forget them, so they are collected once."""
        events, self._pending_events = self._pending_events, []
        return events

    @property
    def has_pending_events(self) -> bool:
        """Whether the aggregate raised events that nobody has collected yet."""
        return bool(self._pending_events)
