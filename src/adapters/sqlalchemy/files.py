"""File records in PostgreSQL, with SQLAlchemy Core on the request's connection."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sqlalchemy.tables import files
from application.files.ports import FileRepository, FileUsage
from domain.articles.values import ArticleId
from domain.files.stored_file import StoredFile
from domain.files.values import FileId, FileName, FilePurpose, FileStatus, Sha256Digest
from domain.users.values import UserId

IN_USE = (FileStatus.PENDING.value, FileStatus.READY.value)
"""The statuses whose files count against their owner's quota."""
DISCARDED = (FileStatus.REJECTED.value, FileStatus.DELETED.value)
"""The statuses whose files garbage collection clears once they are old enough."""

_LOCK_OWNER_QUOTA = sa.text(
    "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':' || :name, 0))"
)
"""Serializes the quota checks of one owner until the transaction ends.

The key names the schema, since advisory locks are per database and deployments may share
one in schemas of their own.
"""

_INSERT = sa.insert(files)
_UPDATE = sa.update(files).where(files.c.id == sa.bindparam("current_id", type_=sa.Uuid))
_STATUS_IN_USE = files.c.status.in_(
    sa.bindparam("in_use", value=list(IN_USE), expanding=True, literal_execute=True)
)
"""Rendered with literal values, so the planner can prove the partial index's predicate
(`ix_files_in_use_owner_id`) even in a generic plan of a prepared statement."""
_GARBAGE_AGE = sa.case(
    (files.c.status == FileStatus.PENDING.value, files.c.created_at), else_=files.c.updated_at
)
"""How long a file has been garbage: a pending one since its upload started, a discarded
one since it was rejected or deleted."""


def _to_row(stored: StoredFile) -> dict[str, Any]:
    return {
        "id": stored.id.value,
        "owner_id": stored.owner_id.value,
        "purpose": stored.purpose.value,
        "name": str(stored.name),
        "content_type": stored.content_type,
        "size": stored.size,
        "sha256": str(stored.sha256),
        "storage_key": stored.storage_key,
        "thumbnail_key": stored.thumbnail_key,
        "backend": stored.backend,
        "status": stored.status.value,
        "article_id": stored.article_id.value if stored.article_id is not None else None,
        "created_at": stored.created_at,
        "updated_at": stored.updated_at,
    }


def _from_row(row: sa.RowMapping) -> StoredFile:
    return StoredFile(
        id=FileId(row["id"]),
        owner_id=UserId(row["owner_id"]),
        purpose=FilePurpose(row["purpose"]),
        name=FileName(row["name"]),
        content_type=row["content_type"],
        size=row["size"],
        sha256=Sha256Digest(row["sha256"]),
        storage_key=row["storage_key"],
        backend=row["backend"],
        status=FileStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        article_id=ArticleId(row["article_id"]) if row["article_id"] is not None else None,
        thumbnail_key=row["thumbnail_key"],
    )


class SqlFileRepository(FileRepository):
    """The `FileRepository` port on PostgreSQL, on the request's connection.

    The quota lock is a transaction-level advisory lock on the owner, taken before the sum
    is read: it holds every other locked check for that owner until this transaction
    commits or rolls back, and the sum, read by a statement of its own after the wait,
    sees what the previous holder committed (READ COMMITTED takes a snapshot per statement).
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, stored: StoredFile) -> None:
        """Insert the record."""
        await self._connection.execute(_INSERT, _to_row(stored))

    async def save(self, stored: StoredFile) -> None:
        """Update every column but the id and the creation time."""
        row = _to_row(stored)
        del row["id"], row["created_at"]
        await self._connection.execute(_UPDATE, {"current_id": stored.id.value, **row})

    async def get(self, file_id: FileId, *, for_update: bool = False) -> StoredFile | None:
        """Load by id; `for_update` locks the row until the transaction ends."""
        statement = sa.select(files).where(files.c.id == file_id.value)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._connection.execute(statement)).mappings().first()
        return _from_row(row) if row is not None else None

    async def remove(self, file_id: FileId) -> bool:
        """Delete the row; True if it went, False if it was gone or a racing delete took it."""
        statement = sa.delete(files).where(files.c.id == file_id.value).returning(files.c.id)
        return (await self._connection.execute(statement)).first() is not None

    async def bytes_in_use(self, owner_id: UserId, *, lock: bool = False) -> int:
        """Sum the sizes of the owner's pending and ready files, after the lock when asked."""
        if lock:
            name = f"portico.files.quota:{owner_id}"
            await self._connection.execute(_LOCK_OWNER_QUOTA, {"name": name})
        statement = sa.select(sa.func.coalesce(sa.func.sum(files.c.size), 0)).where(
            files.c.owner_id == owner_id.value, _STATUS_IN_USE
        )
        return int(await self._connection.scalar(statement) or 0)

    async def attached_to(self, article_id: ArticleId) -> Sequence[StoredFile]:
        """The article's ready images, oldest first, ties by id."""
        statement = (
            sa.select(files)
            .where(
                files.c.article_id == article_id.value,
                files.c.status == FileStatus.READY.value,
            )
            .order_by(files.c.created_at, files.c.id)
        )
        rows = await self._connection.execute(statement)
        return [_from_row(row) for row in rows.mappings()]

    async def stale(
        self, *, backend: str, pending_before: datetime, discarded_before: datetime, limit: int
    ) -> Sequence[StoredFile]:
        """Pending files by start, discarded ones by their last change; oldest first, ties by id."""
        statement = (
            sa.select(files)
            .where(
                files.c.backend == backend,
                sa.or_(
                    sa.and_(
                        files.c.status == FileStatus.PENDING.value,
                        files.c.created_at < pending_before,
                    ),
                    sa.and_(files.c.status.in_(DISCARDED), files.c.updated_at < discarded_before),
                ),
            )
            .order_by(_GARBAGE_AGE, files.c.id)
            .limit(limit)
        )
        rows = await self._connection.execute(statement)
        return [_from_row(row) for row in rows.mappings()]

    async def referenced_keys(self, keys: Sequence[str]) -> set[str]:
        """Match the keys against both key columns, each through its unique index."""
        if not keys:
            return set()
        wanted = sa.bindparam("keys", value=list(keys), type_=ARRAY(sa.String))
        statement = sa.union(
            sa.select(files.c.storage_key).where(files.c.storage_key == sa.any_(wanted)),
            sa.select(files.c.thumbnail_key).where(files.c.thumbnail_key == sa.any_(wanted)),
        )
        return set((await self._connection.scalars(statement)).all())

    async def usage(self) -> Sequence[FileUsage]:
        """Count and sum per purpose, status and backend, in that order."""
        groups = (files.c.purpose, files.c.status, files.c.backend)
        statement = (
            sa.select(*groups, sa.func.count().label("count"), sa.func.sum(files.c.size))
            .group_by(*groups)
            .order_by(*groups)
        )
        rows = await self._connection.execute(statement)
        return [
            FileUsage(
                purpose=FilePurpose(purpose),
                status=FileStatus(status),
                backend=backend,
                count=count,
                total_bytes=int(total_bytes),
            )
            for purpose, status, backend, count, total_bytes in rows
        ]
