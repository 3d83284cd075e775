"""The audit log in PostgreSQL: entries chained at insert, read by indexed filters.

An entry is written by one statement that advances `audit_chain_head` and inserts the
entry from what that update returns. The update takes the head row's lock, and under
READ COMMITTED a writer that waited for it reads the head as the previous writer committed
it, so every process's entries form one chain with no fork and no gap. The statement runs
last in its transaction (it is the tail of the commit's combined insert,
`adapters.sqlalchemy.deferred_inserts`), so the lock is held only for the commit's round
trip. The hash is computed by PostgreSQL's ``sha256`` over the content that
`domain.audit.chain.canonical_content` encodes in Python.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from psycopg.types.json import Jsonb
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sqlalchemy.deferred_inserts import ChainedInsert, send
from adapters.sqlalchemy.tables import audit_chain_head, audit_checkpoints, audit_entries
from application.audit.ports import (
    AuditFilter,
    AuditLog,
    AuditMaintenance,
    ChainHead,
    CheckpointKind,
    StoredCheckpoint,
)
from domain.audit.chain import GENESIS, Checkpoint, canonical_content
from domain.audit.entry import ActorKind, AuditActor, AuditEntry, AuditRecord, Outcome
from domain.shared.changes import FieldChange

_RECORD_COLUMNS = (
    "occurred_at",
    "actor_kind",
    "actor_user_id",
    "actor_username",
    "actor_process",
    "action",
    "target_type",
    "target_id",
    "outcome",
    "reason",
    "changes",
    "request_id",
    "client_ip",
    "user_agent",
)


def chained_entry(prefix: str) -> sa.Insert:
    """The statement that appends one entry to the chain; parameters ``prefix + column``."""
    head = audit_chain_head.c
    one: sa.ColumnElement[int] = sa.literal_column("1")
    advanced = (
        sa.update(audit_chain_head)
        .where(head.id == one)
        .values(
            seq=head.seq + one,
            previous_hash=head.hash,
            hash=sa.func.sha256(
                sa.bindparam(prefix + "content", type_=sa.LargeBinary)
                .op("||")(sa.func.int8send(head.seq + one))
                .op("||")(head.hash)
            ),
        )
        .returning(head.seq, head.previous_hash, head.hash)
        .cte(prefix + "audit_head")
    )
    values = [
        sa.cast(sa.bindparam(prefix + name), audit_entries.c[name].type) for name in _RECORD_COLUMNS
    ]
    return sa.insert(audit_entries).from_select(
        ["seq", "previous_hash", "hash", *_RECORD_COLUMNS],
        sa.select(advanced.c.seq, advanced.c.previous_hash, advanced.c.hash, *values),
    )


def chained_inserts(records: Sequence[AuditRecord]) -> list[ChainedInsert]:
    """The records as chained inserts, for `deferred_inserts.send`."""
    return [ChainedInsert(chained_entry, _row(record)) for record in records]


async def append_now(connection: AsyncConnection, records: Sequence[AuditRecord]) -> None:
    """Append the records inside the connection's current transaction."""
    await send(connection, [], at_commit=False, chained=chained_inserts(records))


def _row(record: AuditRecord) -> dict[str, Any]:
    actor = record.actor
    return {
        "content": canonical_content(record),
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
    """Rebuild an entry exactly as it was written, so its hash can be checked."""
    record = AuditRecord(
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
    return AuditEntry(
        seq=row["seq"],
        record=record,
        previous_hash=bytes(row["previous_hash"]),
        hash=bytes(row["hash"]),
    )


def _conditions(filters: AuditFilter) -> list[sa.ColumnElement[bool]]:
    c = audit_entries.c
    found: list[sa.ColumnElement[bool]] = []
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
        bound = [] if before_seq is None else [c.seq < before_seq]
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
        conditions = _conditions(filters) if filters is not None else []
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
