"""Persistence ports: the unit of work, and the outbox it writes events to."""

from collections.abc import Sequence
from types import TracebackType
from typing import Protocol, Self

from application.common.outbox import OutboxMessage
from domain.shared.aggregate import AggregateRoot


class UnitOfWork(Protocol):
    """One business transaction over every repository of a request.

    Contract:
    - ``async with uow:`` opens the transaction. Leaving the block without `commit`, or by
      an exception, rolls everything back.
    - `track` registers an aggregate changed in this transaction. At `commit`, the events
      each tracked aggregate raised are written to the outbox in the same transaction as
      the state change, so either both persist or neither does.
    - After `commit` the unit of work may be used again for a further transaction.
    """

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def track(self, aggregate: AggregateRoot) -> None:
        """Collect this aggregate's events when the transaction commits."""
        ...

    async def commit(self) -> Sequence[OutboxMessage]:
        """Persist every change and the collected events; return the events written."""
        ...

    async def rollback(self) -> None:
        """Discard every change made since the transaction began."""
        ...


class OutboxReader(Protocol):
    """Reads the outbox; the relay that publishes it arrives with the events issue."""

    async def pending(self, *, limit: int) -> Sequence[OutboxMessage]:
        """Return up to `limit` unsent messages, oldest first."""
        ...
