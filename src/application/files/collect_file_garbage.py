"""Use case: clear what uploads leave behind: stale pending files, deleted bytes, orphans."""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from application.audit.capture import audited
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.files.delete_file import remove_objects
from application.files.ports import FileRepository, FileStorage, StoredObject, discard_object
from domain.files.stored_file import KEY_PREFIXES, StoredFile, is_portico_key
from domain.files.values import FileStatus

COLLECT_FILE_GARBAGE = "collect_file_garbage"
"""The periodic job's name."""

GARBAGE_BATCH = 500
"""Records, or listed objects, handled per transaction."""
DRY_RUN_LIMIT = 100_000
"""Records a dry run counts at most."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CollectFileGarbageCommand:
    """How long a direct upload may stay pending; how old an unreferenced object must be.

    `orphan_grace` must exceed the longest upload: an upload through the API stores its
    object before the record that names it commits. `dry_run` counts without changing
    anything (records up to `DRY_RUN_LIMIT`).
    """

    pending_ttl: timedelta
    orphan_grace: timedelta
    dry_run: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class FileGarbageReport:
    """What a collection removed, or would have removed in a dry run."""

    expired_uploads: int
    discarded_records: int
    orphan_objects: int
    orphan_bytes: int


@audited("file.collect_garbage", target="file")
class CollectFileGarbage:
    """Remove what no live file needs.

    Rules:
    - A direct upload still pending `pending_ttl` after it started is discarded, record
      and object; the quota it held is free again. Each record is locked and checked again
      before it goes, so an upload completed meanwhile stays.
    - Rejected and deleted files lose their bytes and thumbnail, then their record.
    - An object that no record names, older than `orphan_grace`, is removed: the bytes of
      an upload whose process died before it recorded the file, or of a deletion whose
      removal met an outage. Only keys of the shape Portico makes are looked at: anything
      else in the directory or bucket is left alone.
    - What puts that never finished left in storage is cleared too.
    - Each step is idempotent, so collections may overlap or be interrupted.
    """

    def __init__(
        self, *, uow: UnitOfWork, files: FileRepository, storage: FileStorage, clock: Clock
    ) -> None:
        self._uow = uow
        self._files = files
        self._storage = storage
        self._clock = clock

    async def __call__(self, command: CollectFileGarbageCommand) -> FileGarbageReport:
        """Collect; return what went (or would go, in a dry run)."""
        now = self._clock.now()
        expired, discarded = await self._clear_records(command, now=now)
        orphans, orphan_bytes = await self._clear_orphans(
            older_than=now - command.orphan_grace, dry_run=command.dry_run
        )
        if not command.dry_run:
            await self._storage.remove_abandoned_uploads(command.orphan_grace)
        return FileGarbageReport(
            expired_uploads=expired,
            discarded_records=discarded,
            orphan_objects=orphans,
            orphan_bytes=orphan_bytes,
        )

    async def _clear_records(
        self, command: CollectFileGarbageCommand, *, now: datetime
    ) -> tuple[int, int]:
        pending_before, discarded_before = now - command.pending_ttl, now
        if command.dry_run:
            async with self._uow:
                stale = await self._files.stale(
                    backend=self._storage.backend,
                    pending_before=pending_before,
                    discarded_before=discarded_before,
                    limit=DRY_RUN_LIMIT,
                )
            return _counted(stale)
        expired = discarded = 0
        while True:
            async with self._uow:
                batch = await self._files.stale(
                    backend=self._storage.backend,
                    pending_before=pending_before,
                    discarded_before=discarded_before,
                    limit=GARBAGE_BATCH,
                )
                cleared = [
                    current
                    for stored in batch
                    if (current := await self._files.get(stored.id, for_update=True)) is not None
                    and current.status is stored.status
                ]
                removed = []
                for stored in cleared:
                    await remove_objects(self._storage, stored)
                    if await self._files.remove(stored.id):
                        removed.append(stored)
                await self._uow.commit()
            counted = _counted(removed)
            expired, discarded = expired + counted[0], discarded + counted[1]
            if len(batch) < GARBAGE_BATCH:
                return expired, discarded

    async def _clear_orphans(self, *, older_than: datetime, dry_run: bool) -> tuple[int, int]:
        count = total = 0
        batch: list[StoredObject] = []
        async for found in self._portico_objects():
            if found.modified_at < older_than:
                batch.append(found)
            if len(batch) >= GARBAGE_BATCH:
                removed = await self._remove_unreferenced(batch, dry_run=dry_run)
                count, total = count + removed[0], total + removed[1]
                batch = []
        removed = await self._remove_unreferenced(batch, dry_run=dry_run)
        return count + removed[0], total + removed[1]

    async def _portico_objects(self) -> AsyncIterator[StoredObject]:
        """The objects under the keys Portico makes; anything else in storage is left alone."""
        for prefix in KEY_PREFIXES:
            async for found in self._storage.objects(prefix):
                if is_portico_key(found.key):
                    yield found

    async def _remove_unreferenced(
        self, batch: list[StoredObject], *, dry_run: bool
    ) -> tuple[int, int]:
        if not batch:
            return 0, 0
        async with self._uow:
            referenced = await self._files.referenced_keys([found.key for found in batch])
        orphans = [found for found in batch if found.key not in referenced]
        if not dry_run:
            for found in orphans:
                await discard_object(self._storage, found.key)
        return len(orphans), sum(found.size for found in orphans)


def _counted(stale: Sequence[StoredFile]) -> tuple[int, int]:
    """How many of `stale` are expired uploads, and how many discarded files."""
    expired = sum(1 for stored in stale if stored.status is FileStatus.PENDING)
    return expired, len(stale) - expired
