"""A unit of work over the in-memory database, with real rollback."""

import copy
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from adapters.memory.database import InMemoryDatabase
from application.common.after_commit import AfterCommit, run_after_commit
from application.common.correlation import current_request_id
from application.common.outbox import OutboxMessage
from application.common.ports.ids import IdGenerator
from application.common.ports.unit_of_work import UnitOfWork
from domain.shared.aggregate import AggregateRoot


class InMemoryUnitOfWork(UnitOfWork):
    """Keeps the `UnitOfWork` contract without a server.

    The transaction holds the database lock from `__aenter__` to `__aexit__` and keeps a
    deep copy of the state it started from; a rollback restores that copy. Entering it
    again while it is open joins the open transaction, and the nested `commit` is deferred
    to the outermost one, as in the PostgreSQL adapter.
    """

    def __init__(self, database: InMemoryDatabase, ids: IdGenerator) -> None:
        self._database = database
        self._ids = ids
        self._tracked: list[AggregateRoot] = []
        self._snapshot: tuple[dict[str, dict[Any, Any]], list[OutboxMessage]] | None = None
        self._depth = 0
        self._rollback_only = False
        self._after_commit: list[AfterCommit] = []

    async def __aenter__(self) -> Self:
        if self._depth:
            self._depth += 1
            return self
        await self._database.lock.acquire()
        self._begin()
        self._depth = 1
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._depth > 1:
            self._depth -= 1
            if exc is not None:
                self._rollback_only = True
            return
        self._depth = 0
        self._rollback_only = False
        try:
            if self._snapshot is not None:
                await self.rollback()
        finally:
            self._snapshot = None
            self._tracked.clear()
            self._after_commit.clear()
            self._database.lock.release()

    def after_commit(self, callback: AfterCommit) -> None:
        """Run `callback` after the outermost commit; a rollback drops it."""
        self._ensure_active()
        self._after_commit.append(callback)

    def track(self, aggregate: AggregateRoot) -> None:
        """Collect this aggregate's events at commit; tracking twice is harmless."""
        if not any(tracked is aggregate for tracked in self._tracked):
            self._tracked.append(aggregate)

    async def commit(self) -> Sequence[OutboxMessage]:
        """Keep the changes, append the collected events to the outbox, start afresh.

        Inside a nested block this does nothing yet: the outermost commit keeps it all.
        """
        self._ensure_active()
        if self._depth > 1:
            return []
        if self._rollback_only:
            raise RuntimeError("a nested block failed; this transaction can only roll back")
        request_id = current_request_id.get()
        messages = [
            OutboxMessage(event_id=self._ids.new_id(), event=event, request_id=request_id)
            for aggregate in self._tracked
            for event in aggregate.pull_events()
        ]
        self._database.outbox.extend(messages)
        self._tracked.clear()
        self._begin()
        await run_after_commit(self._after_commit)
        return messages

    async def rollback(self) -> None:
        """Restore the state the transaction started from."""
        self._ensure_active()
        assert self._snapshot is not None  # noqa: S101 - narrowed by _ensure_active
        self._database.tables, self._database.outbox = self._snapshot
        for aggregate in self._tracked:
            aggregate.pull_events()
        self._tracked.clear()
        self._after_commit.clear()
        self._begin()

    def _begin(self) -> None:
        self._snapshot = (copy.deepcopy(self._database.tables), list(self._database.outbox))

    def _ensure_active(self) -> None:
        if self._snapshot is None:
            raise RuntimeError("the unit of work is not inside `async with`")
