"""The audit log in memory: the same chain, kept in the in-memory database's tables.

One transaction runs at a time here, so entries are sealed as they are written, at commit:
nothing is ever pending, and `SealAuditEntries` finds nothing to do.
"""

from collections.abc import Sequence

from adapters.memory.database import InMemoryDatabase
from application.audit.ports import (
    AuditFilter,
    AuditLog,
    AuditMaintenance,
    ChainHead,
    CheckpointKind,
    PendingEntry,
    StoredCheckpoint,
)
from domain.audit.chain import GENESIS, seal
from domain.audit.entry import AuditEntry, AuditRecord

ENTRIES = "audit_entries"
HEAD = "audit_chain_head"
CHECKPOINTS = "audit_checkpoints"


def append_chained(database: InMemoryDatabase, records: Sequence[AuditRecord]) -> None:
    """Append the records to the chain; the caller holds the database's lock."""
    head_table = database.table(HEAD)
    entries = database.table(ENTRIES)
    head: ChainHead = head_table.get(1, ChainHead(0, GENESIS))
    for entry in seal(records, after_seq=head.seq, after_hash=head.hash):
        entries[entry.seq] = entry
        head_table[1] = ChainHead(entry.seq, entry.hash)


def _matches(entry: AuditEntry, filters: AuditFilter) -> bool:
    record = entry.record
    wanted = (
        (filters.actor_id, record.actor.user_id),
        (filters.action, record.action),
        (filters.target_type, record.target_type),
        (filters.target_id, record.target_id),
        (filters.outcome, record.outcome),
        (filters.request_id, record.request_id),
    )
    if any(want is not None and want != have for want, have in wanted):
        return False
    if filters.since is not None and record.occurred_at < filters.since:
        return False
    return not (filters.until is not None and record.occurred_at >= filters.until)


class InMemoryAuditLog(AuditLog):
    """Reads the in-memory chain."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    def _all(self) -> list[AuditEntry]:
        return sorted(self._database.table(ENTRIES).values(), key=lambda entry: entry.seq)

    async def newest(
        self, filters: AuditFilter, *, before_seq: int | None, limit: int
    ) -> Sequence[AuditEntry]:
        """Scan newest first."""
        found = [
            entry
            for entry in reversed(self._all())
            if (before_seq is None or entry.seq < before_seq) and _matches(entry, filters)
        ]
        return found[:limit]

    async def count(self, filters: AuditFilter, *, cap: int) -> int:
        """Count, up to `cap`."""
        return min(cap, sum(1 for entry in self._all() if _matches(entry, filters)))

    async def of_user(
        self, user_id: str, actions: Sequence[str], *, before_seq: int | None, limit: int
    ) -> Sequence[AuditEntry]:
        """Entries they made, or made to their account."""
        found = [
            entry
            for entry in reversed(self._all())
            if (before_seq is None or entry.seq < before_seq)
            and entry.record.action in actions
            and (
                entry.record.actor.user_id == user_id
                or (entry.record.target_type == "user" and entry.record.target_id == user_id)
            )
        ]
        return found[:limit]

    async def oldest_first(
        self, *, after_seq: int, limit: int, filters: AuditFilter | None = None
    ) -> Sequence[AuditEntry]:
        """Scan in chain order."""
        found = [
            entry
            for entry in self._all()
            if entry.seq > after_seq and (filters is None or _matches(entry, filters))
        ]
        return found[:limit]

    async def head(self) -> ChainHead:
        """The last entry ever written."""
        head: ChainHead = self._database.table(HEAD).get(1, ChainHead(0, GENESIS))
        return head


class InMemoryAuditMaintenance(AuditMaintenance):
    """Checkpoints and retention in the in-memory tables, inside the unit of work."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    async def lock_head(self) -> ChainHead | None:
        """The head; the unit of work's lock already makes this sealer the only one."""
        head: ChainHead = self._database.table(HEAD).get(1, ChainHead(0, GENESIS))
        return head

    async def pending(self, limit: int) -> Sequence[PendingEntry]:
        """Nothing: entries here are sealed at commit."""
        return [][:limit]

    async def seal(self, sealed: Sequence[tuple[int, AuditEntry]]) -> None:
        """Nothing is ever pending here, so nothing is ever sealed later."""
        if sealed:
            raise ValueError("the in-memory audit log has no pending entries to seal")

    async def add_checkpoint(self, stored: StoredCheckpoint) -> None:
        """Keep it, once per sequence number and kind."""
        key = (stored.checkpoint.seq, stored.kind.value)
        self._database.table(CHECKPOINTS).setdefault(key, stored)

    async def checkpoints(self) -> Sequence[StoredCheckpoint]:
        """Oldest first."""
        table = self._database.table(CHECKPOINTS)
        return [table[key] for key in sorted(table)]

    async def delete_through(self, seq: int, *, start: StoredCheckpoint) -> int:
        """Record the new start, drop the entries up to it and older starts."""
        await self.add_checkpoint(start)
        entries = self._database.table(ENTRIES)
        doomed = [key for key in entries if key <= seq]
        for key in doomed:
            del entries[key]
        checkpoints = self._database.table(CHECKPOINTS)
        for key in [k for k in checkpoints if k[0] < seq and k[1] == CheckpointKind.RETENTION]:
            del checkpoints[key]
        return len(doomed)
