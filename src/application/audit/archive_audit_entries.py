"""Use case: apply the retention period: archive the oldest entries, then delete them."""

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from application.audit.policy import AuditPolicy
from application.audit.ports import AuditLog, AuditMaintenance, CheckpointKind, StoredCheckpoint
from application.audit.verify_audit_chain import chain_start
from application.audit.views import entry_document
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.files.ports import FileStorage
from domain.audit.chain import GENESIS, ChainBreak, ChainWalk, sign_checkpoint
from domain.audit.entry import AuditEntry

ARCHIVE_PREFIX = "audit/archive/"
ARCHIVE_TYPE = "application/x-ndjson"
ARCHIVE_AUDIT_ENTRIES = "archive_audit_entries"
"""The periodic job's name."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchiveReport:
    """What one run archived: how many entries, up to which, and where; or why it stopped."""

    archived: int
    through_seq: int | None
    location: str | None
    broken: ChainBreak | None = None


def archive_key(entries: Sequence[AuditEntry]) -> str:
    """Where a batch is archived: named by its first and last sequence numbers."""
    return f"{ARCHIVE_PREFIX}{entries[0].seq:016d}-{entries[-1].seq:016d}.jsonl"


class ArchiveAuditEntries:
    """Move entries older than the retention period out of the database.

    Rules:
    - A batch (at most `archive_batch` entries, from the start of the chain, all older
      than the period) is verified first: entries that fail the chain are kept, and
      the report says where it broke, so retention never launders an edit away.
    - The batch is written to file storage as JSON lines, with its hashes, before any
      row goes; then, in one transaction, a signed retention checkpoint records the
      last archived entry's hash and the rows are deleted. `verify` starts there after.
    - Repeats until nothing is older than the period; a crash between the archive and
      the delete only archives the batch again under the same name.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        log: AuditLog,
        maintenance: AuditMaintenance,
        storage: FileStorage,
        clock: Clock,
        policy: AuditPolicy,
    ) -> None:
        self._uow = uow
        self._log = log
        self._maintenance = maintenance
        self._storage = storage
        self._clock = clock
        self._policy = policy

    async def __call__(self) -> ArchiveReport:
        """Archive every batch that is due; the report totals them."""
        archived, through, location = 0, None, None
        cutoff = self._clock.now() - self._policy.retention
        while True:
            start = chain_start(await self._maintenance.checkpoints())
            walk = ChainWalk(
                start_seq=start.seq if start else 0, start_hash=start.hash if start else GENESIS
            )
            batch = await self._log.oldest_first(
                after_seq=walk.last_seq, limit=self._policy.archive_batch
            )
            due = [entry for entry in batch if entry.record.occurred_at < cutoff]
            due = due[: next((i for i, e in enumerate(batch) if e not in due), len(due))]
            if not due:
                return ArchiveReport(archived=archived, through_seq=through, location=location)
            if not walk.check(due):
                return ArchiveReport(
                    archived=archived, through_seq=through, location=location, broken=walk.broken
                )
            location = archive_key(due)
            await self._storage.put(location, _lines(due), content_type=ARCHIVE_TYPE)
            last = due[-1]
            checkpoint = sign_checkpoint(
                self._policy.signing_key,
                seq=last.seq,
                entry_hash=last.hash,
                signed_at=self._clock.now(),
            )
            async with self._uow:
                await self._maintenance.delete_through(
                    last.seq, start=StoredCheckpoint(checkpoint, CheckpointKind.RETENTION)
                )
                await self._uow.commit()
            archived += len(due)
            through = last.seq


async def _lines(entries: Sequence[AuditEntry]) -> AsyncIterator[bytes]:
    for entry in entries:
        yield json.dumps(entry_document(entry), ensure_ascii=False).encode() + b"\n"
