"""What every unit of work keeps besides its storage: nesting, tracked aggregates, callbacks."""

from application.common.after_commit import AfterCommit, run_after_commit
from application.common.correlation import current_request_id
from application.common.outbox import OutboxMessage
from application.common.ports.ids import IdGenerator
from domain.shared.aggregate import AggregateRoot


class TransactionBookkeeping:
    """The part of the `UnitOfWork` contract that does not depend on the storage.

    A unit of work composes one and calls it around its own storage steps:

    - `join` on entry (True: a transaction is open, the block joined it), else `open` once
      the storage's transaction has begun;
    - `leave_nested` on exit (True: a nested block left, nothing else to do), else `close`
      once the storage has rolled back what was not committed;
    - `commit_due` before a commit (False: nested, the outermost commit does it all), then
      `outbox_messages` for the events to write, and `run_after_commit` once committed;
    - `ensure_active` and `discard` around an explicit rollback.
    """

    def __init__(self, ids: IdGenerator) -> None:
        self._ids = ids
        self._tracked: list[AggregateRoot] = []
        self._after_commit: list[AfterCommit] = []
        self._depth = 0
        self._rollback_only = False

    def join(self) -> bool:
        """Join the open transaction, if there is one; True when there was."""
        if not self._depth:
            return False
        self._depth += 1
        return True

    def open(self) -> None:
        """Note that the outermost block has begun its transaction."""
        self._depth = 1

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
        if not any(tracked is aggregate for tracked in self._tracked):
            self._tracked.append(aggregate)

    def outbox_messages(self) -> list[OutboxMessage]:
        """Take the tracked aggregates' events, as outbox messages of the current request."""
        request_id = current_request_id.get()
        messages = [
            OutboxMessage(event_id=self._ids.new_id(), event=event, request_id=request_id)
            for aggregate in self._tracked
            for event in aggregate.pull_events()
        ]
        self._tracked.clear()
        return messages

    async def run_after_commit(self) -> None:
        """Run the callbacks kept so far, once the transaction has committed."""
        await run_after_commit(self._after_commit)

    def discard(self) -> None:
        """Drop the tracked aggregates' events and the callbacks: nothing was committed."""
        self._after_commit.clear()
        for aggregate in self._tracked:
            aggregate.pull_events()
        self._tracked.clear()
