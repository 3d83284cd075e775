"""A unit of work over the in-memory database, with real rollback."""

import copy
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from adapters.memory.audit import append_chained
from adapters.memory.database import InMemoryDatabase
from application.common.after_commit import AfterCommit
from application.common.outbox import OutboxMessage
from application.common.ports.clock import Clock
from application.common.ports.ids import IdGenerator
from application.common.ports.unit_of_work import UnitOfWork
from application.common.transaction_bookkeeping import TransactionBookkeeping
from domain.audit.entry import AuditRecord
from domain.shared.aggregate import AggregateRoot


class InMemoryUnitOfWork(UnitOfWork):
    """Keeps the `UnitOfWork` contract without a server.

    The transaction holds the database lock from `__aenter__` to `__aexit__` and keeps a
    deep copy of the state it started from; a rollback restores that copy. Entering it
    again while it is open joins the open transaction, and the nested `commit` is deferred
    to the outermost one, as in the PostgreSQL adapter.
    """

    def __init__(
        self,
        database: InMemoryDatabase,
        ids: IdGenerator,
        clock: Clock | None = None,
        *,
        audit: bool = True,
    ) -> None:
        self._database = database
        self._book = TransactionBookkeeping(
            ids, clock.now if clock is not None else None, audit=audit
        )
        self._snapshot: tuple[dict[str, dict[Any, Any]], list[OutboxMessage]] | None = None

    async def __aenter__(self) -> Self:
        if self._book.join():
            return self
        await self._database.lock.acquire()
        self._begin()
        self._book.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._book.leave_nested(failed=exc is not None):
            return
        try:
            self._restore()
        finally:
            self._snapshot = None
            self._book.close()
            self._database.lock.release()

    def after_commit(self, callback: AfterCommit) -> None:
        """Run `callback` after the outermost commit; a rollback drops it."""
        self._book.after_commit(callback)

    def track(self, aggregate: AggregateRoot) -> None:
        """Collect this aggregate's events at commit; tracking twice is harmless."""
        self._book.track(aggregate)

    async def commit(self, *, refusing: BaseException | None = None) -> Sequence[OutboxMessage]:
        """Keep the changes, the collected events and the audit entries; start afresh.

        Inside a nested block this does nothing yet: the outermost commit keeps it all.
        """
        if not self._book.commit_due():
            return []
        messages, records = self._book.collect(refusing=refusing)
        self._database.outbox.extend(messages)
        append_chained(self._database, records)
        self._begin()
        await self._book.run_after_commit()
        return messages

    async def record_refusal(self, record: AuditRecord) -> None:
        """Append the entry at once, or with the open transaction when nested."""
        if not self._book.audits:
            return
        if self._book.is_open():
            self._book.add_record(record)
            return
        async with self._database.lock:
            append_chained(self._database, [record])

    async def rollback(self) -> None:
        """Restore the state the transaction started from."""
        self._book.ensure_active()
        self._restore()
        self._book.discard()
        self._begin()

    def _begin(self) -> None:
        self._snapshot = (copy.deepcopy(self._database.tables), list(self._database.outbox))

    def _restore(self) -> None:
        assert self._snapshot is not None  # noqa: S101 - taken on entry and after each commit
        self._database.tables, self._database.outbox = self._snapshot
