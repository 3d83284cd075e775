"""The base class for aggregates, which raise events as their state changes."""

from domain.shared.changes import ChangeValue, FieldChange
from domain.shared.events import DomainEvent


class AggregateRoot:
    """An aggregate keeps what it did until the unit of work collects it.

    The events it raised go to the outbox; the field changes it noted, to the audit log.
    """

    __slots__ = ("_changes", "_pending_events")

    def __init__(self) -> None:
        self._pending_events: list[DomainEvent] = []
        self._changes: list[FieldChange] = []

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

    def note_change(self, name: str, before: ChangeValue, after: ChangeValue) -> None:
        """Remember that field `name` went from `before` to `after` (secrets are redacted)."""
        self._changes.append(FieldChange.of(name, before, after))

    def pull_changes(self) -> list[FieldChange]:
        """Hand over the field changes noted since the last pull, and forget them."""
        changes, self._changes = self._changes, []
        return changes
