"""Domain events: immutable facts raised by aggregates."""

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True, slots=True, kw_only=True)
class DomainEvent:
    """Something that happened to one aggregate.

    Subclasses set `event_type` (a stable, dotted name such as ``user.registered``) and
    `aggregate_type`, and add their payload as fields. The event id is assigned when the
    event is written to the outbox, so the domain needs no source of randomness.
    """

    event_type: ClassVar[str]
    aggregate_type: ClassVar[str]

    aggregate_id: str
    occurred_at: datetime

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")


def event_class_for(event_type: str) -> type[DomainEvent] | None:
    """The DomainEvent subclass whose `event_type` is this, among those imported."""
    stack: list[type[DomainEvent]] = [DomainEvent]
    while stack:
        cls = stack.pop()
        if getattr(cls, "event_type", None) == event_type:
            return cls
        stack.extend(cls.__subclasses__())
    return None
