"""The audit context's ports: reading the log, and keeping its checkpoints and retention."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from domain.audit.chain import Checkpoint
from domain.audit.entry import AuditEntry, AuditRecord, Outcome


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditFilter:
    """Which entries to read; every field left None matches everything.

    `since` is inclusive and `until` exclusive. `target_id` needs `target_type`.
    """

    actor_id: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    outcome: Outcome | None = None
    since: datetime | None = None
    until: datetime | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last entry ever written: its sequence number and hash (0 and zeros for none)."""

    seq: int
    hash: bytes


class AuditLog(Protocol):
    """Reads the audit log. Entries are never changed through it.

    Contract:
    - `newest` is one page of the entries matching `filters`, newest first, strictly
      before `before_seq` when given: one statement, served by an index for each filter.
    - `count` counts the matching entries, stopping at `cap`.
    - `of_user` is `newest` for the entries a user made, or that were done to their
      account (`target_type` ``user``), limited to `actions`.
    - `oldest_first` walks entries in chain order after `after_seq`, for verifying,
      exporting and following the log.
    """

    async def newest(
        self, filters: AuditFilter, *, before_seq: int | None, limit: int
    ) -> Sequence[AuditEntry]:
        """A page of matching entries, newest first."""
        ...

    async def count(self, filters: AuditFilter, *, cap: int) -> int:
        """How many entries match, up to `cap`."""
        ...

    async def of_user(
        self, user_id: str, actions: Sequence[str], *, before_seq: int | None, limit: int
    ) -> Sequence[AuditEntry]:
        """A page of the user's own security history, newest first."""
        ...

    async def oldest_first(
        self, *, after_seq: int, limit: int, filters: AuditFilter | None = None
    ) -> Sequence[AuditEntry]:
        """Up to `limit` entries after `after_seq`, in chain order."""
        ...

    async def head(self) -> ChainHead:
        """The last entry ever written, including ones since archived."""
        ...


class CheckpointKind(StrEnum):
    """Why a checkpoint was signed."""

    PERIODIC = "periodic"
    """Anchors the head of the chain as it stood, so a later rewrite shows."""
    RETENTION = "retention"
    """Marks where the chain starts once older entries were archived and deleted."""


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A checkpoint as kept, with why it was signed."""

    checkpoint: Checkpoint
    kind: CheckpointKind


@dataclass(frozen=True, slots=True)
class PendingEntry:
    """An entry written with its change but not chained yet; `key` orders the writes."""

    key: int
    record: AuditRecord


class AuditMaintenance(Protocol):
    """Seals entries into the chain, keeps checkpoints, removes entries once archived.

    Contract:
    - Entries are written with their change and sealed afterwards: `lock_head` takes the
      chain's head for this transaction (None when another sealer holds it: it is at
      work), `pending` reads unsealed entries in the order they were written, and `seal`
      stores their places and hashes and the new head. Readers (`AuditLog`) see sealed
      entries only.
    - `add_checkpoint` keeps a checkpoint; one per sequence number and kind, a repeat is
      harmless.
    - `checkpoints` returns every kept checkpoint in ascending sequence.
    - `delete_through` removes the entries up to `seq` and the retention checkpoint at
      `seq` in one transaction, so the chain's new start is always recorded.
    """

    async def lock_head(self) -> ChainHead | None:
        """The head, locked until the transaction ends; None if another sealer has it."""
        ...

    async def pending(self, limit: int) -> Sequence[PendingEntry]:
        """Up to `limit` unsealed entries, oldest write first."""
        ...

    async def seal(self, sealed: Sequence[tuple[int, AuditEntry]]) -> None:
        """Store each pending entry's (by key) place and hashes, and the last as the head."""
        ...

    async def add_checkpoint(self, stored: StoredCheckpoint) -> None:
        """Keep a signed checkpoint."""
        ...

    async def checkpoints(self) -> Sequence[StoredCheckpoint]:
        """Every kept checkpoint, oldest first."""
        ...

    async def delete_through(self, seq: int, *, start: StoredCheckpoint) -> int:
        """Delete entries up to `seq`, recording `start` with it; how many went."""
        ...
