"""The lease port: one holder at a time among processes, such as the leading scheduler."""

from typing import Protocol


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
