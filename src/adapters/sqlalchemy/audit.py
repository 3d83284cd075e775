"""The audit log in PostgreSQL: entries written with their change, sealed into one chain.

An entry is one more row in its transaction's commit statement
(`adapters.sqlalchemy.deferred_inserts`): writers take no lock and wait for nothing. The
sealer (`application.audit.seal_audit_entries`) then locks the one head row, reads the
unsealed entries in the order they were inserted, and gives each its place and hash
(computed in Python by `domain.audit.chain`); readers see sealed entries only. Chaining at
the writer instead would make every audited commit wait for the one before it to reach the
disk, which halves the write throughput of a busy server (see bench/audit.py).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from psycopg.types.json import Jsonb
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sqlalchemy.deferred_inserts import PendingInsert
from adapters.sqlalchemy.tables import audit_chain_head, audit_checkpoints, audit_entries
from application.audit.ports import (
    AuditFilter,
    AuditLog,
    AuditMaintenance,
    ChainHead,
    CheckpointKind,
    PendingEntry,
    StoredCheckpoint,
)
from domain.audit.chain import GENESIS, Checkpoint
from domain.audit.entry import ActorKind, AuditActor, AuditEntry, AuditRecord, Outcome
from domain.shared.changes import FieldChange

_SEALED = audit_entries.c.seq.is_not(None)


def audit_inserts(records: Sequence[AuditRecord]) -> list[PendingInsert]:
    """The records' rows, unsealed, for `deferred_inserts.send`."""
    return [PendingInsert(audit_entries, _row(record)) for record in records]


def _row(record: AuditRecord) -> dict[str, Any]:
    actor = record.actor
    return {
        "occurred_at": record.occurred_at,
        "actor_kind": actor.kind.value,
        "actor_user_id": actor.user_id,
        "actor_username": actor.username,
        "actor_process": actor.process,
        "action": record.action,
        "target_type": record.target_type,
        "target_id": record.target_id,
        "outcome": record.outcome.value,
        "reason": record.reason,
        "changes": Jsonb([[c.name, c.before, c.after] for c in record.changes]),
        "request_id": record.request_id,
        "client_ip": record.client_ip,
        "user_agent": record.user_agent,
    }


def entry_of(row: sa.RowMapping) -> AuditEntry:
    """Rebuild a sealed entry exactly as it was written, so its hash can be checked."""
    return AuditEntry(
        seq=row["seq"],
        record=record_of(row),
        previous_hash=bytes(row["previous_hash"]),
        hash=bytes(row["hash"]),
    )


def record_of(row: sa.RowMapping) -> AuditRecord:
    """The record a row holds."""
    return AuditRecord(
        occurred_at=row["occurred_at"],
        actor=AuditActor(
            kind=ActorKind(row["actor_kind"]),
            user_id=row["actor_user_id"],
            username=row["actor_username"],
            process=row["actor_process"],
        ),
        action=row["action"],
        target_type=row["target_type"],
        target_id=row["target_id"],
        outcome=Outcome(row["outcome"]),
        reason=row["reason"],
        changes=tuple(FieldChange(*change) for change in row["changes"]),
        request_id=row["request_id"],
        client_ip=row["client_ip"],
        user_agent=row["user_agent"],
    )


def _conditions(filters: AuditFilter) -> list[sa.ColumnElement[bool]]:
    c = audit_entries.c
    found: list[sa.ColumnElement[bool]] = [_SEALED]
    if filters.actor_id is not None:
        found.append(c.actor_user_id == filters.actor_id)
    if filters.action is not None:
        found.append(c.action == filters.action)
    if filters.target_type is not None:
        found.append(c.target_type == filters.target_type)
    if filters.target_id is not None:
        found.append(c.target_id == filters.target_id)
    if filters.outcome is not None:
        found.append(c.outcome == filters.outcome.value)
    if filters.since is not None:
        found.append(c.occurred_at >= filters.since)
    if filters.until is not None:
        found.append(c.occurred_at < filters.until)
    if filters.request_id is not None:
        found.append(c.request_id == filters.request_id)
    return found


class SqlAlchemyAuditLog(AuditLog):
    """Reads the audit log on the request's connection."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def newest(
        self, filters: AuditFilter, *, before_seq: int | None, limit: int
    ) -> Sequence[AuditEntry]:
        """One statement; each filter has an index ending in ``seq``."""
        conditions = _conditions(filters)
        if before_seq is not None:
            conditions.append(audit_entries.c.seq < before_seq)
        query = (
            sa.select(audit_entries)
            .where(*conditions)
            .order_by(audit_entries.c.seq.desc())
            .limit(limit)
        )
        result = await self._connection.execute(query)
        return [entry_of(row) for row in result.mappings()]

    async def count(self, filters: AuditFilter, *, cap: int) -> int:
        """Counting stops at `cap`, so a broad filter never scans the whole log."""
        capped = (
            sa.select(sa.literal(1))
            .select_from(audit_entries)
            .where(*_conditions(filters))
            .limit(cap)
            .subquery()
        )
        result = await self._connection.execute(sa.select(sa.func.count()).select_from(capped))
        return int(result.scalar_one())

    async def of_user(
        self, user_id: str, actions: Sequence[str], *, before_seq: int | None, limit: int
    ) -> Sequence[AuditEntry]:
        """The entries they made and those done to their account, each by its own index."""
        c = audit_entries.c
        bound = [_SEALED] if before_seq is None else [c.seq < before_seq]
        mine = (
            sa.select(audit_entries)
            .where(c.actor_user_id == user_id, c.action.in_(actions), *bound)
            .order_by(c.seq.desc())
            .limit(limit)
        )
        about_me = (
            sa.select(audit_entries)
            .where(c.target_type == "user", c.target_id == user_id, c.action.in_(actions), *bound)
            .order_by(c.seq.desc())
            .limit(limit)
        )
        both = sa.union(mine, about_me).subquery()
        query = sa.select(both).order_by(both.c.seq.desc()).limit(limit)
        result = await self._connection.execute(query)
        return [entry_of(row) for row in result.mappings()]

    async def oldest_first(
        self, *, after_seq: int, limit: int, filters: AuditFilter | None = None
    ) -> Sequence[AuditEntry]:
        """A range scan of the primary key."""
        conditions = _conditions(filters or AuditFilter())
        query = (
            sa.select(audit_entries)
            .where(audit_entries.c.seq > after_seq, *conditions)
            .order_by(audit_entries.c.seq)
            .limit(limit)
        )
        result = await self._connection.execute(query)
        return [entry_of(row) for row in result.mappings()]

    async def head(self) -> ChainHead:
        """The head row; a database migrated before any entry says 0."""
        result = await self._connection.execute(
            sa.select(audit_chain_head.c.seq, audit_chain_head.c.hash)
        )
        row = result.first()
        return ChainHead(0, GENESIS) if row is None else ChainHead(row.seq, bytes(row.hash))


class SqlAlchemyAuditMaintenance(AuditMaintenance):
    """Checkpoints and retention, on the connection it is given."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def lock_head(self) -> ChainHead | None:
        """``FOR UPDATE SKIP LOCKED``: a sealer never waits for another.

        A missing head row (the tables were emptied) is put back at genesis, but only while
        no entry is sealed: with sealed entries left, a head starting over would fork the
        chain, so that is refused for an operator to look at.
        """
        locked = (
            sa.select(audit_chain_head.c.seq, audit_chain_head.c.hash)
            .where(audit_chain_head.c.id == 1)
            .with_for_update(skip_locked=True)
        )
        row = (await self._connection.execute(locked)).first()
        if row is not None:
            return ChainHead(row.seq, bytes(row.hash))
        present = await self._connection.execute(
            sa.select(audit_chain_head.c.id).where(audit_chain_head.c.id == 1)
        )
        if present.first() is not None:
            return None
        sealed = await self._connection.execute(
            sa.select(audit_entries.c.id).where(_SEALED).limit(1)
        )
        if sealed.first() is not None:
            raise RuntimeError(
                "audit_chain_head is missing while sealed audit entries remain; restore it "
                "(seq and hash of the last entry) before sealing again"
            )
        await self._connection.execute(
            postgresql.insert(audit_chain_head)
            .values(id=1, seq=0, previous_hash=GENESIS, hash=GENESIS)
            .on_conflict_do_nothing()
        )
        row = (await self._connection.execute(locked)).first()
        return None if row is None else ChainHead(row.seq, bytes(row.hash))

    async def pending(self, limit: int) -> Sequence[PendingEntry]:
        """By the partial index of unsealed entries, in insertion order."""
        result = await self._connection.execute(
            sa.select(audit_entries)
            .where(audit_entries.c.seq.is_(None))
            .order_by(audit_entries.c.id)
            .limit(limit)
        )
        return [PendingEntry(row["id"], record_of(row)) for row in result.mappings()]

    async def seal(self, sealed: Sequence[tuple[int, AuditEntry]]) -> None:
        """One UPDATE from a VALUES list for the entries, one for the head."""
        if not sealed:
            return
        values = sa.values(
            sa.column("id", sa.BigInteger),
            sa.column("seq", sa.BigInteger),
            sa.column("previous_hash", sa.LargeBinary),
            sa.column("hash", sa.LargeBinary),
            name="sealed",
        ).data([(key, e.seq, e.previous_hash, e.hash) for key, e in sealed])
        await self._connection.execute(
            sa.update(audit_entries)
            .where(audit_entries.c.id == values.c.id)
            .values(seq=values.c.seq, previous_hash=values.c.previous_hash, hash=values.c.hash)
        )
        last = sealed[-1][1]
        await self._connection.execute(
            sa.update(audit_chain_head)
            .where(audit_chain_head.c.id == 1)
            .values(seq=last.seq, previous_hash=last.previous_hash, hash=last.hash)
        )

    async def add_checkpoint(self, stored: StoredCheckpoint) -> None:
        """Insert, ignoring a repeat of the same sequence number and kind."""
        statement = (
            postgresql.insert(audit_checkpoints)
            .values(_checkpoint_row(stored))
            .on_conflict_do_nothing()
        )
        await self._connection.execute(statement)

    async def checkpoints(self) -> Sequence[StoredCheckpoint]:
        """Oldest first."""
        result = await self._connection.execute(
            sa.select(audit_checkpoints).order_by(audit_checkpoints.c.seq)
        )
        return [
            StoredCheckpoint(
                Checkpoint(
                    seq=row["seq"],
                    hash=bytes(row["hash"]),
                    signed_at=row["signed_at"],
                    signature=row["signature"],
                ),
                CheckpointKind(row["kind"]),
            )
            for row in result.mappings()
        ]

    async def delete_through(self, seq: int, *, start: StoredCheckpoint) -> int:
        """In the caller's transaction: the new start is recorded, the older entries go."""
        await self.add_checkpoint(start)
        result = await self._connection.execute(
            sa.delete(audit_entries).where(audit_entries.c.seq <= seq)
        )
        await self._connection.execute(
            sa.delete(audit_checkpoints).where(
                audit_checkpoints.c.seq < seq,
                audit_checkpoints.c.kind == CheckpointKind.RETENTION.value,
            )
        )
        return int(result.rowcount)


def _checkpoint_row(stored: StoredCheckpoint) -> dict[str, Any]:
    checkpoint = stored.checkpoint
    return {
        "seq": checkpoint.seq,
        "kind": stored.kind.value,
        "hash": checkpoint.hash,
        "signed_at": checkpoint.signed_at,
        "signature": checkpoint.signature,
    }
