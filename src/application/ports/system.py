"""Time and identity, behind ports so that tests are deterministic."""

from datetime import datetime
from typing import Protocol
from uuid import UUID


class Clock(Protocol):
    """Tells the current time."""

    def now(self) -> datetime:
        """Return the current instant as a timezone-aware UTC datetime."""
        ...


class IdGenerator(Protocol):
    """Makes new unique identifiers."""

    def new_id(self) -> UUID:
        """Return an identifier never returned before; later ids sort after earlier ones."""
        ...


class ExclusiveLease(Protocol):
    """Held by one holder at a time among every process that shares the lease's store.

    A holder that dies, or loses its connection to the store, loses the lease, so another
    can take it; a holder learns that from `is_held`.
    """

    async def try_acquire(self) -> bool:
        """Take the lease unless another holds it; True when this holder has it now."""
        ...

    async def is_held(self) -> bool:
        """Whether this holder still has the lease."""
        ...

    async def release(self) -> None:
        """Give the lease up; harmless when it is not held."""
        ...
