"""File records in the in-memory database."""

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from adapters.memory.database import InMemoryDatabase, detached
from application.files.ports import FileRepository, FileUsage
from domain.articles.values import ArticleId
from domain.files.stored_file import StoredFile
from domain.files.values import FileId, FilePurpose, FileStatus
from domain.users.values import UserId

FILES = "files"
IN_USE = frozenset({FileStatus.PENDING, FileStatus.READY})
"""The statuses whose files count against their owner's quota."""
DISCARDED = frozenset({FileStatus.REJECTED, FileStatus.DELETED})
"""The statuses whose files garbage collection clears once they are old enough."""


def _garbage_age(stored: StoredFile) -> datetime:
    """How long a file has been garbage: since its upload started, or since it was discarded."""
    return stored.created_at if stored.status is FileStatus.PENDING else stored.updated_at


class InMemoryFileRepository(FileRepository):
    """The `FileRepository` port over the in-memory database; stores copies, like a database.

    The rows live in the database's tables, so a unit of work's rollback takes them back.
    The unit of work already runs one transaction at a time, which is the quota lock. An
    image keeps its article's id after the article is deleted, as in PostgreSQL, until
    the handler of ``article.deleted`` deletes it.
    """

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    @property
    def _files(self) -> dict[FileId, StoredFile]:
        return self._database.table(FILES)

    async def add(self, stored: StoredFile) -> None:
        """Store a copy of the new record."""
        self._files[stored.id] = detached(stored)

    async def save(self, stored: StoredFile) -> None:
        """Replace the stored copy; a record that is gone stays gone, as with an UPDATE."""
        if stored.id in self._files:
            self._files[stored.id] = detached(stored)

    async def get(
        self,
        file_id: FileId,
        *,
        for_update: bool = False,  # noqa: ARG002 - the unit of work already serializes
    ) -> StoredFile | None:
        """A copy of the record, in any status."""
        stored = self._files.get(file_id)
        return self._read(stored) if stored is not None else None

    async def remove(self, file_id: FileId) -> bool:
        """Forget the record; False if it was gone."""
        return self._files.pop(file_id, None) is not None

    async def bytes_in_use(
        self,
        owner_id: UserId,
        *,
        lock: bool = False,  # noqa: ARG002 - the unit of work already serializes
    ) -> int:
        """Sum the sizes of the owner's pending and ready files."""
        return sum(
            stored.size
            for stored in self._files.values()
            if stored.owner_id == owner_id and stored.status in IN_USE
        )

    async def attached_to(self, article_id: ArticleId) -> Sequence[StoredFile]:
        """The article's ready images, oldest first, ties by id."""
        found = [
            stored
            for stored in map(self._read, self._files.values())
            if stored.article_id == article_id and stored.status is FileStatus.READY
        ]
        return sorted(found, key=lambda stored: (stored.created_at, stored.id.value))

    async def stale(
        self, *, backend: str, pending_before: datetime, discarded_before: datetime, limit: int
    ) -> Sequence[StoredFile]:
        """Pending files by start, discarded ones by their last change; oldest first, ties by id."""
        found = [
            stored
            for stored in self._files.values()
            if stored.backend == backend
            and (
                (stored.status is FileStatus.PENDING and stored.created_at < pending_before)
                or (stored.status in DISCARDED and stored.updated_at < discarded_before)
            )
        ]
        found.sort(key=lambda stored: (_garbage_age(stored), stored.id.value))
        return [self._read(stored) for stored in found[:limit]]

    async def referenced_keys(self, keys: Sequence[str]) -> set[str]:
        """Those of `keys` some record, in any status, names as its object or thumbnail."""
        named = {stored.storage_key for stored in self._files.values()} | {
            stored.thumbnail_key
            for stored in self._files.values()
            if stored.thumbnail_key is not None
        }
        return named.intersection(keys)

    async def usage(self) -> Sequence[FileUsage]:
        """Count and sum per purpose, status and backend, in that order."""
        counts: Counter[tuple[FilePurpose, FileStatus, str]] = Counter()
        sizes: Counter[tuple[FilePurpose, FileStatus, str]] = Counter()
        for stored in self._files.values():
            group = (stored.purpose, stored.status, stored.backend)
            counts[group] += 1
            sizes[group] += stored.size
        return [
            FileUsage(
                purpose=purpose,
                status=status,
                backend=backend,
                count=counts[purpose, status, backend],
                total_bytes=sizes[purpose, status, backend],
            )
            for purpose, status, backend in sorted(counts)
        ]

    def _read(self, stored: StoredFile) -> StoredFile:
        """A copy as a read returns it."""
        return detached(stored)
