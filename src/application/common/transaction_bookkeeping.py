"""What every unit of work keeps besides its storage: nesting, tracked aggregates, callbacks."""

from collections.abc import Callable
from datetime import UTC, datetime

from application.audit.capture import AuditScope, current_scope
from application.common.after_commit import AfterCommit, run_after_commit
from application.common.correlation import current_request_id
from application.common.outbox import OutboxMessage
from application.common.ports.ids import IdGenerator
from domain.audit.entry import AuditRecord
from domain.shared.aggregate import AggregateRoot
from domain.shared.changes import FieldChange
from domain.shared.events import DomainEvent


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TransactionBookkeeping:
    """The part of the `UnitOfWork` contract that does not depend on the storage.

    A unit of work composes one and calls it around its own storage steps:

    - `join` on entry (True: a transaction is open, the block joined it), else `open` once
      the storage's transaction has begun;
    - `leave_nested` on exit (True: a nested block left, nothing else to do), else `close`
      once the storage has rolled back what was not committed;
    - `commit_due` before a commit (False: nested, the outermost commit does it all), then
      `collect` for the events to write and the audit entries of the audited calls that
      ran in the transaction (`application.audit.capture`), and `run_after_commit` once
      committed;
    - `ensure_active` and `discard` around an explicit rollback.
    """

    def __init__(
        self,
        ids: IdGenerator,
        now: Callable[[], datetime] | None = None,
        *,
        audit: bool = True,
    ) -> None:
        self._ids = ids
        self._now = now or _utc_now
        self._audit = audit
        self._tracked: list[tuple[AggregateRoot, AuditScope | None]] = []
        self._scopes: list[AuditScope] = []
        self._records: list[AuditRecord] = []
        self._after_commit: list[AfterCommit] = []
        self._depth = 0
        self._rollback_only = False

    def join(self) -> bool:
        """Join the open transaction, if there is one; True when there was."""
        if not self._depth:
            return False
        self._depth += 1
        self._enlist(current_scope())
        return True

    def open(self) -> None:
        """Note that the outermost block has begun its transaction."""
        self._depth = 1
        self._enlist(current_scope())

    def _enlist(self, scope: AuditScope | None) -> None:
        if self._audit and scope is not None and not any(known is scope for known in self._scopes):
            self._scopes.append(scope)

    def leave_nested(self, *, failed: bool) -> bool:
        """Leave a nested block, which dooms the transaction if it `failed`; False if outermost."""
        if self._depth <= 1:
            return False
        self._depth -= 1
        if failed:
            self._rollback_only = True
        return True

    def close(self) -> None:
        """Note that the outermost block has left: whatever was not committed is dropped."""
        self._depth = 0
        self._rollback_only = False
        self.discard()
        self._scopes.clear()

    def is_open(self) -> bool:
        """Whether a transaction is open."""
        return bool(self._depth)

    def add_record(self, record: AuditRecord) -> None:
        """Write `record` with this transaction's commit; a rollback drops it."""
        self.ensure_active()
        if self._audit:
            self._records.append(record)

    @property
    def audits(self) -> bool:
        """Whether this unit of work writes audit entries at all (`AUDIT_ENABLED`)."""
        return self._audit

    def ensure_active(self) -> None:
        """Refuse to work outside ``async with``."""
        if not self._depth:
            raise RuntimeError("the unit of work is not inside `async with`")

    def commit_due(self) -> bool:
        """Whether `commit` commits now: False inside a nested block; refused when doomed."""
        self.ensure_active()
        if self._depth > 1:
            return False
        if self._rollback_only:
            raise RuntimeError("a nested block failed; this transaction can only roll back")
        return True

    def after_commit(self, callback: AfterCommit) -> None:
        """Keep `callback` for `run_after_commit`; a rollback drops it."""
        self.ensure_active()
        self._after_commit.append(callback)

    def track(self, aggregate: AggregateRoot) -> None:
        """Collect this aggregate's events at commit; tracking twice is harmless."""
        if not any(tracked is aggregate for tracked, _ in self._tracked):
            scope = current_scope()
            self._enlist(scope)
            self._tracked.append((aggregate, scope))

    def collect(
        self, *, refusing: BaseException | None = None
    ) -> tuple[list[OutboxMessage], list[AuditRecord]]:
        """Take the events and audit entries this transaction commits.

        The tracked aggregates' events become outbox messages of the current request, and
        each audited call that ran in the transaction gets its entry.
        """
        request_id = current_request_id.get()
        messages: list[OutboxMessage] = []
        facts: dict[int, tuple[list[DomainEvent], list[FieldChange]]] = {}
        for aggregate, scope in self._tracked:
            events = aggregate.pull_events()
            messages.extend(
                OutboxMessage(event_id=self._ids.new_id(), event=event, request_id=request_id)
                for event in events
            )
            changes = aggregate.pull_changes()
            if scope is not None:
                scope_events, scope_changes = facts.setdefault(id(scope), ([], []))
                scope_events.extend(events)
                scope_changes.extend(changes)
        self._tracked.clear()
        now = self._now()
        records, self._records = self._records, []
        for scope in self._scopes:
            events, changes = facts.get(id(scope), ([], []))
            record = scope.committed(events, changes, now=now, refusing=refusing)
            if record is not None:
                records.append(record)
        return messages, records

    async def run_after_commit(self) -> None:
        """Run the callbacks kept so far, once the transaction has committed."""
        await run_after_commit(self._after_commit)

    def discard(self) -> None:
        """Drop the tracked aggregates' events and the callbacks: nothing was committed."""
        self._after_commit.clear()
        self._records.clear()
        for aggregate, _ in self._tracked:
            aggregate.pull_events()
            aggregate.pull_changes()
        self._tracked.clear()
