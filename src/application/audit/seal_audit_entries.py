"""Use case: chain the entries written since the last seal, in one order across processes."""

from application.audit.ports import AuditMaintenance
from application.common.ports.unit_of_work import UnitOfWork
from domain.audit.chain import seal

BATCH = 1_000


class SealAuditEntries:
    """Give the waiting entries their sequence numbers and hashes.

    Entries are inserted with the change they record, so they cost the writer no lock; this
    chains them afterwards. Rules:
    - One sealer at a time, across every process: the head is locked for the transaction,
      and a sealer that finds it locked leaves at once (the other one is at work).
    - Entries are chained in the order they were written, at most `BATCH` per call; the
      chain's order is the order of sealing, so an entry committed late is simply chained
      later, and no gap can appear.
    - Returns how many it sealed; the caller runs again at once when that is a full batch.
    """

    def __init__(self, uow: UnitOfWork, maintenance: AuditMaintenance) -> None:
        self._uow = uow
        self._maintenance = maintenance

    async def __call__(self) -> int:
        """Seal one batch; how many entries it chained."""
        async with self._uow:
            head = await self._maintenance.lock_head()
            if head is None:
                return 0
            pending = await self._maintenance.pending(BATCH)
            if not pending:
                return 0
            entries = seal(
                (item.record for item in pending), after_seq=head.seq, after_hash=head.hash
            )
            await self._maintenance.seal(
                [(item.key, entry) for item, entry in zip(pending, entries, strict=True)]
            )
            await self._uow.commit()
        return len(entries)
