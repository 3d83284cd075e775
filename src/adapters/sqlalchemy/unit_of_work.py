"""The unit of work over one PostgreSQL connection."""

from collections.abc import Sequence
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sqlalchemy import deferred_inserts
from adapters.sqlalchemy.audit import audit_inserts
from adapters.sqlalchemy.connection_loss import note_commit_sent
from adapters.sqlalchemy.errors import translated
from adapters.sqlalchemy.outbox import outbox_inserts
from application.common.after_commit import AfterCommit
from application.common.outbox import OutboxMessage
from application.common.ports.clock import Clock
from application.common.ports.ids import IdGenerator
from application.common.ports.unit_of_work import UnitOfWork
from application.common.transaction_bookkeeping import TransactionBookkeeping
from domain.audit.entry import AuditRecord
from domain.shared.aggregate import AggregateRoot

AUTOCOMMIT = "AUTOCOMMIT"
TRANSACTIONAL = "READ COMMITTED"


class SqlAlchemyUnitOfWork(UnitOfWork):
    """Keeps the `UnitOfWork` contract with a database transaction.

    The repositories of a request share this connection, so they all take part in the
    transaction; the outbox rows are inserted just before the commit, in it, in one
    statement with the inserts that repositories deferred to the commit
    (`adapters.sqlalchemy.deferred_inserts`). A transaction that only inserts, such as a
    sign-in, is then that one statement.

    A request's connection reads in autocommit (see `create_engine`). On entry the unit of
    work switches it to READ COMMITTED transactions, and on exit back to autocommit; both
    are client-side settings of the driver, with no round trip. A
    connection that is already transactional (scripts, tests) is used as it is.

    Entering the unit of work again while it is open (a use case called by an event
    handler, in the same request scope) joins the open transaction: the nested `commit`
    is deferred to the outermost one, so the handler's changes and the record that it ran
    commit together.

    A transaction that fails because it lost a race (a row it referenced was deleted
    meanwhile, a deadlock) is rolled back and leaves as the application's error for that
    race (`adapters.sqlalchemy.errors`), so no caller ever handles a driver exception. One
    whose connection died leaves as `ConnectionLostError` before its COMMIT was sent, and as
    `OutcomeUnknownError` once it was (`adapters.sqlalchemy.connection_loss`).
    """

    def __init__(
        self,
        connection: AsyncConnection,
        ids: IdGenerator,
        clock: Clock | None = None,
        *,
        audit: bool = True,
    ) -> None:
        self._connection = connection
        self._book = TransactionBookkeeping(
            ids, clock.now if clock is not None else None, audit=audit
        )
        self._restore_autocommit = False

    async def __aenter__(self) -> Self:
        if self._book.join():
            return self
        raw = await self._connection.get_raw_connection()
        # AUTOCOMMIT is psycopg's flag: tests/integration/test_reliances_storage.py
        self._restore_autocommit = bool(getattr(raw.driver_connection, "autocommit", False))
        if self._restore_autocommit:
            if self._connection.in_transaction():
                await self._connection.commit()
            await self._connection.execution_options(isolation_level=TRANSACTIONAL)
        if not self._connection.in_transaction():
            await self._connection.begin()
        deferred_inserts.start_deferring(self._connection)
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
            if self._connection.in_transaction():
                await self._connection.rollback()
            # A replacement for a dead connection comes from the pool in autocommit.
            if self._restore_autocommit and not self._connection.invalidated:
                await self._connection.execution_options(isolation_level=AUTOCOMMIT)
        finally:
            deferred_inserts.discard(self._connection)
            deferred_inserts.stop_deferring(self._connection)
            self._book.close()
        race = translated(exc) if exc is not None else None
        if race is not None:
            raise race from exc

    def after_commit(self, callback: AfterCommit) -> None:
        """Run `callback` after the outermost commit; a rollback drops it."""
        self._book.after_commit(callback)

    def track(self, aggregate: AggregateRoot) -> None:
        """Collect this aggregate's events at commit; tracking twice is harmless."""
        self._book.track(aggregate)

    async def commit(self, *, refusing: BaseException | None = None) -> Sequence[OutboxMessage]:
        """Write the events to the outbox and the audit entries beside them, and commit.

        All of it is one transaction, and one statement (`deferred_inserts`).

        Inside a nested block this does nothing yet: the outermost commit writes it all.
        """
        if not self._book.commit_due():
            return []
        messages, records = self._book.collect(refusing=refusing)
        inserts = (
            deferred_inserts.take(self._connection)
            + outbox_inserts(messages)
            + audit_inserts(records)
        )
        await deferred_inserts.send(self._connection, inserts, at_commit=True)
        note_commit_sent(self._connection)
        await self._connection.commit()
        await self._book.run_after_commit()
        return messages

    async def record_refusal(self, record: AuditRecord) -> None:
        """Append the entry in a transaction of its own, or in the open one when nested."""
        if not self._book.audits:
            return
        if self._book.is_open():
            self._book.add_record(record)
            return
        async with self:
            await deferred_inserts.send(self._connection, audit_inserts([record]), at_commit=True)
            note_commit_sent(self._connection)
            await self._connection.commit()

    async def rollback(self) -> None:
        """Discard the transaction's changes and the events raised in it."""
        self._book.ensure_active()
        await self._connection.rollback()
        deferred_inserts.discard(self._connection)
        self._book.discard()
