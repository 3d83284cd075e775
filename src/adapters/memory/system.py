"""A clock that moves only when told, and ids that count up: deterministic tests."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

from application.common.ports.clock import Clock
from application.common.ports.ids import IdGenerator


class ManualClock(Clock):
    """A clock for tests: it starts where it is told and moves only by `advance`."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")

    def now(self) -> datetime:
        """Return the clock's current instant."""
        return self._now

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward."""
        if delta < timedelta(0):
            raise ValueError("a clock does not go backwards")
        self._now += delta


class SequentialIdGenerator(IdGenerator):
    """Hands out 00000000-…-000000000001, …-000000000002 and so on."""

    def __init__(self) -> None:
        self._next = 1

    def new_id(self) -> UUID:
        """Return the next id in sequence."""
        value, self._next = self._next, self._next + 1
        return UUID(int=value)
