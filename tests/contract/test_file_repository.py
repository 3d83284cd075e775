"""The `FileRepository` contract, on the memory and PostgreSQL adapters.

Each step runs in a unit of work of its own, as a use case's would, so what one step
committed is what the next reads, and what a rolled back step wrote is gone.
"""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory.articles import InMemoryArticleRepository
from adapters.memory.database import InMemoryDatabase
from adapters.memory.files import InMemoryFileRepository
from adapters.memory.system import SequentialIdGenerator
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from adapters.memory.users import InMemoryUserRepository
from adapters.sqlalchemy.articles import SqlArticleRepository
from adapters.sqlalchemy.files import SqlFileRepository
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from adapters.sqlalchemy.users import SqlUserRepository
from application.articles.ports import ArticleRepository
from application.common.ports.unit_of_work import UnitOfWork
from application.files.ports import FileRepository, FileUsage
from application.users.ports import UserRepository
from domain.articles.article import Article
from domain.articles.values import ArticleId, Body, Description, Slug, TagList, Title
from domain.files.content import InspectedContent
from domain.files.stored_file import StoredFile, storage_key_for, thumbnail_key_for
from domain.files.values import FileId, FileName, FilePurpose, FileStatus, Sha256Digest
from domain.users.user import User
from domain.users.values import Email, UserId, Username
from tests.support.postgres import engine_for_tests, truncate_all

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
ADA, BOB = UserId(UUID(int=1)), UserId(UUID(int=2))
FIRST_ARTICLE, SECOND_ARTICLE = ArticleId(UUID(int=101)), ArticleId(UUID(int=102))
DIGEST = Sha256Digest("ab" * 32)


def file_id(number: int) -> FileId:
    return FileId(UUID(int=1000 + number))


def make_file(
    number: int,
    *,
    owner: UserId = ADA,
    purpose: FilePurpose = FilePurpose.ATTACHMENT,
    status: FileStatus = FileStatus.READY,
    size: int = 100,
    backend: str = "local",
    created_at: datetime = NOW,
    updated_at: datetime | None = None,
    article: ArticleId | None = None,
    thumbnail: bool = False,
) -> StoredFile:
    identity = file_id(number)
    return StoredFile(
        id=identity,
        owner_id=owner,
        purpose=purpose,
        name=FileName(f"file-{number}.pdf"),
        content_type="application/pdf",
        size=size,
        sha256=DIGEST,
        storage_key=storage_key_for(identity),
        backend=backend,
        status=status,
        created_at=created_at,
        updated_at=updated_at or created_at,
        article_id=article,
        thumbnail_key=thumbnail_key_for(identity) if thumbnail else None,
    )


def columns(stored: StoredFile) -> tuple[object, ...]:
    """Every field a record keeps, to compare a read with what was stored."""
    return (
        stored.id,
        stored.owner_id,
        stored.purpose,
        stored.name,
        stored.content_type,
        stored.size,
        stored.sha256,
        stored.storage_key,
        stored.thumbnail_key,
        stored.backend,
        stored.status,
        stored.article_id,
        stored.created_at,
        stored.updated_at,
    )


@dataclass
class Transaction:
    uow: UnitOfWork
    files: FileRepository
    users: UserRepository
    articles: ArticleRepository


class Harness:
    """Opens units of work on one adapter, each with the repositories on its transaction."""

    def __init__(self, engine: AsyncEngine | None) -> None:
        self._engine = engine
        self._database = InMemoryDatabase()
        self._ids = SequentialIdGenerator()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A unit of work, entered; rolled back unless committed."""
        async with AsyncExitStack() as stack:
            if self._engine is None:
                database = self._database
                built = Transaction(
                    InMemoryUnitOfWork(database, self._ids),
                    InMemoryFileRepository(database),
                    InMemoryUserRepository(database),
                    InMemoryArticleRepository(database),
                )
            else:
                connection = await stack.enter_async_context(self._engine.connect())
                built = Transaction(
                    SqlAlchemyUnitOfWork(connection, self._ids),
                    SqlFileRepository(connection),
                    SqlUserRepository(connection),
                    SqlArticleRepository(connection),
                )
            async with built.uow:
                yield built

    async def add(self, *stored: StoredFile) -> None:
        async with self.transaction() as tx:
            for record in stored:
                await tx.files.add(record)
            await tx.uow.commit()

    async def get(self, identity: FileId) -> StoredFile | None:
        async with self.transaction() as tx:
            return await tx.files.get(identity)

    async def seed(self) -> None:
        """Ada and Bob, and two articles of Ada's, for the records to name."""
        async with self.transaction() as tx:
            for user_id, name in ((ADA, "ada"), (BOB, "bob")):
                await tx.users.add(
                    User.register(
                        id=user_id,
                        username=Username(name),
                        email=Email.parse(f"{name}@test.com"),
                        password_hash="hash",
                        now=NOW,
                    )
                )
            for article_id in (FIRST_ARTICLE, SECOND_ARTICLE):
                await tx.articles.add(
                    Article.publish(
                        id=article_id,
                        author_id=ADA,
                        slug=Slug(f"article-{article_id.value.int}"),
                        title=Title("Pictured"),
                        description=Description("With images"),
                        body=Body("Body"),
                        tags=TagList.parse(()),
                        now=NOW,
                    )
                )
            await tx.uow.commit()


@pytest.fixture(params=["memory", pytest.param("sqlalchemy", marks=pytest.mark.integration)])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        built = Harness(None)
        await built.seed()
        yield built
        return
    engine = engine_for_tests(request.getfixturevalue("migrated_url"), autocommit=True)
    try:
        built = Harness(engine)
        await built.seed()
        yield built
    finally:
        await truncate_all(engine)
        await engine.dispose()


async def test_a_record_round_trips_with_every_field(harness: Harness) -> None:
    stored = make_file(
        1,
        purpose=FilePurpose.ARTICLE_IMAGE,
        updated_at=NOW + MINUTE,
        article=FIRST_ARTICLE,
        thumbnail=True,
        size=2**40,
    )
    await harness.add(stored)
    loaded = await harness.get(stored.id)
    assert loaded is not None
    assert columns(loaded) == columns(stored)
    assert not loaded.has_pending_events
    assert await harness.get(file_id(2)) is None


async def test_a_record_without_article_or_thumbnail_round_trips(harness: Harness) -> None:
    stored = make_file(1, status=FileStatus.PENDING, size=0)
    await harness.add(stored)
    loaded = await harness.get(stored.id)
    assert loaded is not None
    assert columns(loaded) == columns(stored)
    assert (loaded.article_id, loaded.thumbnail_key) == (None, None)


async def test_a_received_upload_is_stored_without_its_events(harness: Harness) -> None:
    stored = StoredFile.received(
        id=file_id(1),
        owner_id=BOB,
        purpose=FilePurpose.AVATAR,
        name=FileName.parse("  ünïcode ✓.png "),
        content=InspectedContent(content_type="image/png", size=42, sha256=DIGEST),
        backend="s3",
        now=NOW,
    )
    async with harness.transaction() as tx:
        await tx.files.add(stored)
        await tx.uow.commit()
    loaded = await harness.get(stored.id)
    assert loaded is not None
    assert columns(loaded) == columns(stored)
    assert str(loaded.name) == "ünïcode ✓.png"
    assert not loaded.has_pending_events


async def test_save_stores_each_change_of_a_direct_upload(harness: Harness) -> None:
    announced = StoredFile.announced(
        id=file_id(1),
        owner_id=ADA,
        purpose=FilePurpose.ARTICLE_IMAGE,
        name=FileName("photo.jpg"),
        content_type="image/jpeg",
        size=10,
        sha256=DIGEST,
        backend="s3",
        now=NOW,
    )
    await harness.add(announced)
    async with harness.transaction() as tx:
        stored = await tx.files.get(announced.id, for_update=True)
        assert stored is not None
        stored.complete(
            InspectedContent(content_type="image/webp", size=10, sha256=DIGEST), now=NOW + MINUTE
        )
        stored.set_thumbnail(thumbnail_key_for(stored.id), now=NOW + 2 * MINUTE)
        stored.attach_to(SECOND_ARTICLE, now=NOW + 3 * MINUTE)
        await tx.files.save(stored)
        await tx.uow.commit()
    loaded = await harness.get(announced.id)
    assert loaded is not None
    assert columns(loaded) == columns(stored)
    assert (loaded.status, loaded.content_type, loaded.article_id) == (
        FileStatus.READY,
        "image/webp",
        SECOND_ARTICLE,
    )
    assert (loaded.thumbnail_key, loaded.updated_at, loaded.created_at) == (
        "thumbnails/00000000-0000-0000-0000-0000000003e9.webp",
        NOW + 3 * MINUTE,
        NOW,
    )


async def test_save_stores_a_detach_and_a_deletion(harness: Harness) -> None:
    await harness.add(make_file(1, purpose=FilePurpose.ARTICLE_IMAGE, article=FIRST_ARTICLE))
    async with harness.transaction() as tx:
        stored = await tx.files.get(file_id(1), for_update=True)
        assert stored is not None
        stored.detach(now=NOW + MINUTE)
        assert stored.delete(by=BOB, now=NOW + 2 * MINUTE)
        await tx.files.save(stored)
        await tx.uow.commit()
    loaded = await harness.get(file_id(1))
    assert loaded is not None
    assert (loaded.status, loaded.article_id, loaded.updated_at) == (
        FileStatus.DELETED,
        None,
        NOW + 2 * MINUTE,
    )


async def test_remove_forgets_the_record_once(harness: Harness) -> None:
    await harness.add(make_file(1), make_file(2))
    async with harness.transaction() as tx:
        assert await tx.files.remove(file_id(1))
        assert not await tx.files.remove(file_id(1))
        assert not await tx.files.remove(file_id(3))
        await tx.uow.commit()
    assert await harness.get(file_id(1)) is None
    assert await harness.get(file_id(2)) is not None


async def test_an_add_left_without_commit_is_discarded(harness: Harness) -> None:
    async with harness.transaction() as tx:
        await tx.files.add(make_file(1))
        assert await tx.files.get(file_id(1)) is not None
    assert await harness.get(file_id(1)) is None


async def test_a_rollback_discards_the_add_and_the_transaction_goes_on(harness: Harness) -> None:
    async with harness.transaction() as tx:
        await tx.files.add(make_file(1))
        await tx.uow.rollback()
        assert await tx.files.get(file_id(1)) is None
        await tx.files.add(make_file(2))
        await tx.uow.commit()
    assert await harness.get(file_id(1)) is None
    assert await harness.get(file_id(2)) is not None


async def test_a_failed_transaction_discards_its_changes(harness: Harness) -> None:
    await harness.add(make_file(1))

    async def change_then_fail() -> None:
        async with harness.transaction() as tx:
            stored = await tx.files.get(file_id(1), for_update=True)
            assert stored is not None
            stored.delete(by=ADA, now=NOW + MINUTE)
            await tx.files.save(stored)
            await tx.files.add(make_file(2))
            raise LookupError

    with pytest.raises(LookupError):
        await change_then_fail()
    loaded = await harness.get(file_id(1))
    assert loaded is not None
    assert loaded.status is FileStatus.READY
    assert await harness.get(file_id(2)) is None


@pytest.mark.parametrize("lock", [False, True])
async def test_bytes_in_use_count_pending_and_ready_files_only(
    harness: Harness, *, lock: bool
) -> None:
    await harness.add(
        make_file(1, status=FileStatus.PENDING, size=1_000),
        make_file(2, status=FileStatus.READY, size=20),
        make_file(3, status=FileStatus.REJECTED, size=300_000),
        make_file(4, status=FileStatus.DELETED, size=4_000_000),
        make_file(5, status=FileStatus.READY, size=3, purpose=FilePurpose.AVATAR, backend="s3"),
        make_file(6, owner=BOB, status=FileStatus.READY, size=50_000_000),
    )
    async with harness.transaction() as tx:
        assert await tx.files.bytes_in_use(ADA, lock=lock) == 1_023
        assert await tx.files.bytes_in_use(BOB, lock=lock) == 50_000_000
        assert await tx.files.bytes_in_use(UserId(UUID(int=3)), lock=lock) == 0


async def test_bytes_in_use_follow_status_changes_within_the_transaction(
    harness: Harness,
) -> None:
    await harness.add(make_file(1, status=FileStatus.PENDING, size=70))
    async with harness.transaction() as tx:
        assert await tx.files.bytes_in_use(ADA, lock=True) == 70
        await tx.files.add(make_file(2, size=5))
        assert await tx.files.bytes_in_use(ADA, lock=True) == 75
        pending = await tx.files.get(file_id(1), for_update=True)
        assert pending is not None
        pending.reject(now=NOW + MINUTE)
        await tx.files.save(pending)
        assert await tx.files.bytes_in_use(ADA) == 5
        await tx.uow.commit()
    async with harness.transaction() as tx:
        assert await tx.files.bytes_in_use(ADA) == 5


async def test_attached_to_lists_an_articles_ready_images_oldest_first(harness: Harness) -> None:
    image = FilePurpose.ARTICLE_IMAGE
    await harness.add(
        make_file(1, purpose=image, article=FIRST_ARTICLE, created_at=NOW + 2 * MINUTE),
        make_file(2, purpose=image, article=FIRST_ARTICLE, created_at=NOW),
        make_file(3, purpose=image, article=FIRST_ARTICLE, status=FileStatus.DELETED),
        make_file(4, purpose=image, article=FIRST_ARTICLE, status=FileStatus.PENDING),
        make_file(5, purpose=image, article=FIRST_ARTICLE, status=FileStatus.REJECTED),
        make_file(6, purpose=image, article=SECOND_ARTICLE, created_at=NOW - MINUTE),
        make_file(7, purpose=image, created_at=NOW - MINUTE),
        make_file(8, purpose=image, article=FIRST_ARTICLE, created_at=NOW + MINUTE, owner=BOB),
        make_file(9, purpose=image, article=FIRST_ARTICLE, created_at=NOW),
    )
    async with harness.transaction() as tx:
        attached = await tx.files.attached_to(FIRST_ARTICLE)
        assert [stored.id for stored in attached] == [file_id(n) for n in (2, 9, 8, 1)]
        assert all(not stored.has_pending_events for stored in attached)
        assert [stored.id for stored in await tx.files.attached_to(SECOND_ARTICLE)] == [file_id(6)]
        assert await tx.files.attached_to(ArticleId(UUID(int=103))) == []


async def test_an_articles_images_stay_attached_after_its_deletion_for_the_handler(
    harness: Harness,
) -> None:
    await harness.add(make_file(1, purpose=FilePurpose.ARTICLE_IMAGE, article=FIRST_ARTICLE))
    async with harness.transaction() as tx:
        assert await tx.articles.remove(FIRST_ARTICLE)
        await tx.uow.commit()
    async with harness.transaction() as tx:
        assert [stored.id for stored in await tx.files.attached_to(FIRST_ARTICLE)] == [file_id(1)]


PENDING_BEFORE = NOW - timedelta(hours=1)
DISCARDED_BEFORE = NOW - timedelta(days=7)


async def test_stale_selects_old_pending_and_long_discarded_files(harness: Harness) -> None:
    await harness.add(
        make_file(1, status=FileStatus.PENDING, created_at=PENDING_BEFORE - MINUTE),
        make_file(2, status=FileStatus.PENDING, created_at=PENDING_BEFORE),
        make_file(3, status=FileStatus.PENDING, created_at=NOW),
        make_file(
            4,
            status=FileStatus.PENDING,
            created_at=PENDING_BEFORE - MINUTE,
            updated_at=NOW,
        ),
        make_file(5, status=FileStatus.REJECTED, updated_at=DISCARDED_BEFORE - MINUTE),
        make_file(6, status=FileStatus.DELETED, updated_at=DISCARDED_BEFORE - MINUTE),
        make_file(7, status=FileStatus.DELETED, updated_at=DISCARDED_BEFORE),
        make_file(
            8,
            status=FileStatus.DELETED,
            created_at=DISCARDED_BEFORE - timedelta(days=30),
            updated_at=PENDING_BEFORE - MINUTE,
        ),
        make_file(9, status=FileStatus.READY, created_at=DISCARDED_BEFORE - timedelta(days=30)),
    )
    async with harness.transaction() as tx:
        stale = await tx.files.stale(
            backend="local",
            pending_before=PENDING_BEFORE,
            discarded_before=DISCARDED_BEFORE,
            limit=100,
        )
    assert sorted(stored.id.value.int - 1000 for stored in stale) == [1, 4, 5, 6]


async def test_stale_names_only_the_files_of_the_backend_collecting(harness: Harness) -> None:
    old = DISCARDED_BEFORE - timedelta(days=30)
    await harness.add(
        make_file(1, status=FileStatus.PENDING, created_at=old, backend="s3"),
        make_file(2, status=FileStatus.DELETED, created_at=old, updated_at=old, backend="s3"),
        make_file(3, status=FileStatus.PENDING, created_at=old, backend="local"),
    )
    async with harness.transaction() as tx:
        on_s3 = await tx.files.stale(
            backend="s3",
            pending_before=PENDING_BEFORE,
            discarded_before=DISCARDED_BEFORE,
            limit=100,
        )
        on_disk = await tx.files.stale(
            backend="local",
            pending_before=PENDING_BEFORE,
            discarded_before=DISCARDED_BEFORE,
            limit=100,
        )
    assert sorted(stored.id.value.int - 1000 for stored in on_s3) == [1, 2]
    assert [stored.id.value.int - 1000 for stored in on_disk] == [3]


async def test_stale_returns_the_oldest_first_up_to_the_limit(harness: Harness) -> None:
    day = timedelta(days=1)
    await harness.add(
        make_file(1, status=FileStatus.PENDING, created_at=NOW - 9 * day),
        make_file(
            2,
            status=FileStatus.DELETED,
            created_at=NOW - 30 * day,
            updated_at=NOW - 10 * day,
        ),
        make_file(
            3,
            status=FileStatus.REJECTED,
            created_at=NOW - 30 * day,
            updated_at=NOW - 8 * day,
        ),
        make_file(4, status=FileStatus.PENDING, created_at=NOW - 10 * day),
        make_file(5, status=FileStatus.PENDING, created_at=NOW - 2 * day),
    )

    async def numbers(limit: int) -> list[int]:
        async with harness.transaction() as tx:
            stale = await tx.files.stale(
                backend="local",
                pending_before=PENDING_BEFORE,
                discarded_before=DISCARDED_BEFORE,
                limit=limit,
            )
        return [stored.id.value.int - 1000 for stored in stale]

    assert await numbers(10) == [2, 4, 1, 3, 5]
    assert await numbers(3) == [2, 4, 1]
    assert await numbers(0) == []


async def test_referenced_keys_name_objects_and_thumbnails_of_any_status(
    harness: Harness,
) -> None:
    await harness.add(
        make_file(1, thumbnail=True),
        make_file(2, status=FileStatus.DELETED, thumbnail=True),
        make_file(3, status=FileStatus.PENDING),
        make_file(4, status=FileStatus.REJECTED),
    )
    asked = [
        storage_key_for(file_id(1)),
        thumbnail_key_for(file_id(1)),
        thumbnail_key_for(file_id(2)),
        storage_key_for(file_id(3)),
        storage_key_for(file_id(4)),
        thumbnail_key_for(file_id(3)),
        storage_key_for(file_id(5)),
        "files/not-a-file",
        "",
    ]
    async with harness.transaction() as tx:
        assert await tx.files.referenced_keys(asked) == set(asked[:5])
        assert await tx.files.referenced_keys([]) == set()
        assert await tx.files.referenced_keys([storage_key_for(file_id(1))] * 2) == {
            storage_key_for(file_id(1))
        }


async def test_usage_counts_and_sums_per_purpose_status_and_backend(harness: Harness) -> None:
    await harness.add(
        make_file(1, size=10),
        make_file(2, size=20, owner=BOB),
        make_file(3, size=40, backend="s3"),
        make_file(4, size=80, status=FileStatus.PENDING),
        make_file(5, size=160, purpose=FilePurpose.AVATAR),
        make_file(6, size=320, purpose=FilePurpose.AVATAR, status=FileStatus.DELETED),
        make_file(7, size=0, purpose=FilePurpose.ARTICLE_IMAGE, status=FileStatus.REJECTED),
    )
    attachment, avatar = FilePurpose.ATTACHMENT, FilePurpose.AVATAR
    async with harness.transaction() as tx:
        usage = await tx.files.usage()
    assert sorted(usage, key=lambda u: (u.purpose, u.status, u.backend)) == [
        FileUsage(
            purpose=FilePurpose.ARTICLE_IMAGE,
            status=FileStatus.REJECTED,
            backend="local",
            count=1,
            total_bytes=0,
        ),
        FileUsage(
            purpose=attachment, status=FileStatus.PENDING, backend="local", count=1, total_bytes=80
        ),
        FileUsage(
            purpose=attachment, status=FileStatus.READY, backend="local", count=2, total_bytes=30
        ),
        FileUsage(
            purpose=attachment, status=FileStatus.READY, backend="s3", count=1, total_bytes=40
        ),
        FileUsage(
            purpose=avatar, status=FileStatus.DELETED, backend="local", count=1, total_bytes=320
        ),
        FileUsage(
            purpose=avatar, status=FileStatus.READY, backend="local", count=1, total_bytes=160
        ),
    ]
    assert all(isinstance(group.total_bytes, int) for group in usage)


async def test_usage_of_no_files_is_empty(harness: Harness) -> None:
    async with harness.transaction() as tx:
        assert await tx.files.usage() == []
