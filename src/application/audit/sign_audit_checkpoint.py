"""Use case: anchor the audit chain's head with a signature the database cannot forge."""

import logging

from application.audit.policy import AuditPolicy
from application.audit.ports import AuditLog, AuditMaintenance, CheckpointKind, StoredCheckpoint
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from domain.audit.chain import Checkpoint, sign_checkpoint

_log = logging.getLogger(__name__)

SIGN_AUDIT_CHECKPOINT = "sign_audit_checkpoint"
"""The periodic job's name."""


class SignAuditCheckpoint:
    """Sign the head of the chain as it stands, keep the checkpoint, and log it.

    Rules:
    - Nothing to sign (no entries, or none since the last checkpoint) signs nothing.
    - The checkpoint is kept in the database and written to the log: whoever rewrites the
      chain without the key cannot make it agree with either, and the log copy survives
      even a rewrite of the checkpoints table.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        log: AuditLog,
        maintenance: AuditMaintenance,
        clock: Clock,
        policy: AuditPolicy,
    ) -> None:
        self._uow = uow
        self._log = log
        self._maintenance = maintenance
        self._clock = clock
        self._policy = policy

    async def __call__(self) -> Checkpoint | None:
        """The checkpoint signed, or None when the head was already anchored."""
        head = await self._log.head()
        if head.seq == 0:
            return None
        stored = await self._maintenance.checkpoints()
        if any(item.checkpoint.seq == head.seq for item in stored):
            return None
        checkpoint = sign_checkpoint(
            self._policy.signing_key,
            seq=head.seq,
            entry_hash=head.hash,
            signed_at=self._clock.now(),
        )
        async with self._uow:
            await self._maintenance.add_checkpoint(
                StoredCheckpoint(checkpoint, CheckpointKind.PERIODIC)
            )
            await self._uow.commit()
        _log.info(
            "audit checkpoint: entry %d has hash %s (signed %s, signature %s)",
            checkpoint.seq,
            checkpoint.hash.hex(),
            checkpoint.signed_at.isoformat(),
            checkpoint.signature,
        )
        return checkpoint
