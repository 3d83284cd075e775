"""Use case: prove the audit log has not been edited, or name the first entry that was."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from application.audit.policy import AuditPolicy
from application.audit.ports import AuditLog, AuditMaintenance, CheckpointKind, StoredCheckpoint
from domain.audit.chain import (
    GENESIS,
    BreakKind,
    ChainBreak,
    ChainWalk,
    Checkpoint,
    checkpoint_is_authentic,
)

BATCH = 2_000


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainReport:
    """What a verification found: how far it checked, and the first break, if any."""

    checked: int
    first_seq: int
    last_seq: int
    checkpoints: int
    broken: ChainBreak | None

    @property
    def intact(self) -> bool:
        """Whether every entry and checkpoint held."""
        return self.broken is None


def chain_start(stored: Sequence[StoredCheckpoint]) -> Checkpoint | None:
    """Where the chain now starts: the newest retention checkpoint, if entries were archived."""
    starts = [item.checkpoint for item in stored if item.kind is CheckpointKind.RETENTION]
    return max(starts, key=lambda checkpoint: checkpoint.seq, default=None)


class VerifyAuditChain:
    """Walk the whole chain, then check the checkpoints and the head against it.

    Rules:
    - Every checkpoint must carry this deployment's signature (a forged one is a break).
    - The walk starts at genesis, or at the newest retention checkpoint once older entries
      were archived.
    - Each entry must follow the one before and match its own hash (`ChainWalk`).
    - Each periodic checkpoint must agree with the entry at its sequence number: a chain
      rewritten after the checkpoint was signed fails here, even with every hash redone.
    - The head must name the last entry, so entries deleted from the end show.
    - `progress` is told how many entries were checked so far, for a progress bar.
    """

    def __init__(self, log: AuditLog, maintenance: AuditMaintenance, policy: AuditPolicy) -> None:
        self._log = log
        self._maintenance = maintenance
        self._policy = policy

    async def __call__(self, progress: Callable[[int], None] | None = None) -> ChainReport:
        """Check everything; the report names the first break."""
        stored = await self._maintenance.checkpoints()
        start = chain_start(stored)
        walk = ChainWalk(
            start_seq=start.seq if start else 0,
            start_hash=start.hash if start else GENESIS,
            remember=[c.checkpoint.seq for c in stored if c.kind is CheckpointKind.PERIODIC],
        )
        broken = self._forged(stored) or await self._walk(walk, progress)
        broken = broken or self._against_checkpoints(
            walk, stored, start_seq=start.seq if start else 0
        )
        if broken is None:
            head = await self._log.head()
            if head.seq != walk.last_seq or head.hash != walk.last_hash:
                broken = ChainBreak(
                    walk.last_seq + 1,
                    BreakKind.MISSING,
                    f"the head names entry {head.seq}, but the chain ends at {walk.last_seq}",
                )
        return ChainReport(
            checked=walk.checked,
            first_seq=(start.seq if start else 0) + 1,
            last_seq=walk.last_seq,
            checkpoints=len(stored),
            broken=broken,
        )

    def _forged(self, stored: Sequence[StoredCheckpoint]) -> ChainBreak | None:
        for item in stored:
            if not checkpoint_is_authentic(self._policy.signing_key, item.checkpoint):
                return ChainBreak(
                    item.checkpoint.seq,
                    BreakKind.CHECKPOINT,
                    f"the {item.kind.value} checkpoint here is not signed with this key",
                )
        return None

    async def _walk(
        self, walk: ChainWalk, progress: Callable[[int], None] | None
    ) -> ChainBreak | None:
        after = walk.last_seq
        while True:
            batch = await self._log.oldest_first(after_seq=after, limit=BATCH)
            if not batch or not walk.check(batch):
                return walk.broken
            after = batch[-1].seq
            if progress is not None:
                progress(walk.checked)

    @staticmethod
    def _against_checkpoints(
        walk: ChainWalk, stored: Sequence[StoredCheckpoint], *, start_seq: int
    ) -> ChainBreak | None:
        for item in stored:
            checkpoint = item.checkpoint
            if item.kind is not CheckpointKind.PERIODIC or checkpoint.seq <= start_seq:
                continue  # archived since it was signed
            if walk.hashes.get(checkpoint.seq) != checkpoint.hash:
                return ChainBreak(
                    checkpoint.seq,
                    BreakKind.CHECKPOINT,
                    f"the checkpoint signed at {checkpoint.signed_at.isoformat()} does not "
                    "match the chain: entries up to here were rewritten",
                )
        return None
