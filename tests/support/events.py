"""A tiny aggregate of the tests' own, to exercise the unit of work and the outbox."""

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from domain.shared.aggregate import AggregateRoot
from domain.shared.events import DomainEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterIncremented(DomainEvent):
    """The counter went up by `amount`."""

    event_type: ClassVar[str] = "test.counter_incremented"
    aggregate_type: ClassVar[str] = "test_counter"

    amount: int
    note: str = ""


class Counter(AggregateRoot):
    """Counts, and says so with an event each time."""

    __slots__ = ("counter_id", "value")

    def __init__(self, counter_id: str) -> None:
        super().__init__()
        self.counter_id = counter_id
        self.value = 0

    def increment(self, amount: int, *, now: datetime, note: str = "") -> None:
        self.value += amount
        self.record(
            CounterIncremented(
                aggregate_id=self.counter_id, occurred_at=now, amount=amount, note=note
            )
        )
