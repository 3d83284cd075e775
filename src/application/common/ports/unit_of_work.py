"""The unit of work port: one business transaction over every repository of a request."""

from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Protocol, Self

from application.common.outbox import OutboxMessage
from domain.audit.entry import AuditRecord
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
    - Audit (`application.audit.capture`): at `commit`, each audited use case running in
      this unit of work gets its entry, written in the same transaction as the change
      (`SealAuditEntries` chains it afterwards). `record_refusal` writes a refused
      attempt's entry in a transaction of its own.
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

    async def commit(self, *, refusing: BaseException | None = None) -> Sequence[OutboxMessage]:
        """Persist every change and the collected events; return the events written.

        `refusing` is the error the caller raises once this commit is done (a reused
        refresh token: the session is revoked, then the refresh refused): the audit entry
        written with the change records that refusal instead of a success.
        """
        ...

    async def record_refusal(self, record: AuditRecord) -> None:
        """Write a refused attempt's audit entry in a transaction of its own, now.

        Outside a transaction it commits at once. Inside one (a use case nested in an event
        handler) it joins that transaction, whose outcome it then shares.
        """
        ...

    def after_commit(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` once the outermost transaction has committed.

        This is how work outside the database (enqueueing a job) waits for the rows it
        refers to, even when the use case runs nested in an event handler's transaction.
        A rollback drops the callbacks. A failing callback is logged; it neither undoes
        the commit nor stops the callbacks after it.
        """
        ...

    async def rollback(self) -> None:
        """Discard every change made since the transaction began."""
        ...
