"""The files' jobs and handler as the worker runs them: from a job's name or an event's type.

The application's container on the in-memory twins (storage included), with the
real Pillow; tests/integration/test_files_jobs.py runs the thumbnail on Redis and
PostgreSQL.
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from io import BytesIO
from uuid import UUID, uuid4

import pytest
from dishka import AsyncContainer
from PIL import Image

from adapters.memory.database import InMemoryDatabase
from application.common.ports.unit_of_work import UnitOfWork
from application.events.received_event import ReceivedEvent
from application.files.collect_file_garbage import COLLECT_FILE_GARBAGE
from application.files.make_thumbnail import MAKE_THUMBNAIL
from application.files.ports import FileRepository, FileStorage
from domain.articles.values import ArticleId
from domain.files.events import FileDeleted
from domain.files.stored_file import StoredFile, storage_key_for
from domain.files.values import FileId, FileName, FilePurpose, FileStatus, Sha256Digest
from domain.users.values import UserId
from entrypoints.config import load_settings
from entrypoints.ioc import make_container
from entrypoints.ioc.memory import InMemoryPersistenceProvider
from entrypoints.worker.dispatch import dispatch
from entrypoints.worker.handlers import EVENT_HANDLERS
from entrypoints.worker.jobs import file_garbage_command, run_job

ADA, MODERATOR = UserId(UUID(int=1)), UserId(UUID(int=2))
THUMBNAIL_EDGE = 16
DAYS_AGO = timedelta(days=2)


@pytest.fixture
def database() -> InMemoryDatabase:
    return InMemoryDatabase()


@pytest.fixture
async def container(database: InMemoryDatabase) -> AsyncIterator[AsyncContainer]:
    settings = load_settings(
        {
            "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            "FILES_THUMBNAIL_MAX_EDGE": str(THUMBNAIL_EDGE),
        },
        env_file=None,
    )
    container = make_container(settings, InMemoryPersistenceProvider(database))
    yield container
    await container.close()


def a_file(
    status: FileStatus,
    *,
    purpose: FilePurpose = FilePurpose.ARTICLE_IMAGE,
    article_id: ArticleId | None = None,
    age: timedelta = timedelta(0),
    content_type: str = "image/png",
    size: int = 10,
) -> StoredFile:
    file_id = FileId(uuid4())
    moment = datetime.now(UTC) - age
    return StoredFile(
        id=file_id,
        owner_id=ADA,
        purpose=purpose,
        name=FileName("picture.png"),
        content_type=content_type,
        size=size,
        sha256=Sha256Digest("ab" * 32),
        storage_key=storage_key_for(file_id),
        backend="memory",
        status=status,
        created_at=moment,
        updated_at=moment,
        article_id=article_id,
    )


async def keep(container: AsyncContainer, stored: StoredFile, data: bytes) -> None:
    """Record the file and store its bytes."""
    storage = await container.get(FileStorage)

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    await storage.put(stored.storage_key, chunks(), content_type=stored.content_type)
    async with container() as request:
        uow = await request.get(UnitOfWork)
        files: FileRepository = await request.get(FileRepository)
        async with uow:
            await files.add(stored)
            await uow.commit()


async def reread(container: AsyncContainer, stored: StoredFile) -> StoredFile | None:
    async with container() as request:
        uow = await request.get(UnitOfWork)
        files: FileRepository = await request.get(FileRepository)
        async with uow:
            return await files.get(stored.id)


async def is_stored(container: AsyncContainer, key: str) -> bool:
    storage = await container.get(FileStorage)
    return await storage.stat(key) is not None


async def run(container: AsyncContainer, task: str, payload: dict[str, str]) -> None:
    async with container() as request:
        await run_job(request, task, payload)


def png(width: int, height: int) -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (width, height), (0, 90, 200)).save(buffer, "PNG")
    return buffer.getvalue()


async def test_the_thumbnail_job_makes_a_thumbnail_of_the_size_settings_give(
    container: AsyncContainer,
) -> None:
    image = png(64, 32)
    stored = a_file(FileStatus.READY, size=len(image))
    await keep(container, stored, image)

    await run(container, MAKE_THUMBNAIL, {"file_id": str(stored.id)})

    recorded = await reread(container, stored)
    assert recorded is not None
    assert recorded.thumbnail_key is not None
    storage = await container.get(FileStorage)
    thumbnail = b"".join([chunk async for chunk in storage.read(recorded.thumbnail_key)])
    with Image.open(BytesIO(thumbnail)) as small:
        assert (small.format, small.size) == ("WEBP", (THUMBNAIL_EDGE, THUMBNAIL_EDGE // 2))


@pytest.mark.parametrize(
    ("payload", "error"),
    [({}, KeyError), ({"file_id": "not-a-uuid"}, ValueError)],
    ids=["no file id", "not a uuid"],
)
async def test_a_malformed_thumbnail_job_fails_as_any_jobs_malformed_payload(
    container: AsyncContainer, payload: dict[str, str], error: type[Exception]
) -> None:
    """The failure spends the job's attempts, then drops it (tests/unit/test_job_attempts.py)."""
    with pytest.raises(error):
        await run(container, MAKE_THUMBNAIL, payload)


async def test_the_garbage_job_removes_an_expired_upload_and_keeps_the_rest(
    container: AsyncContainer,
) -> None:
    expired = a_file(FileStatus.PENDING, purpose=FilePurpose.ATTACHMENT, age=DAYS_AGO)
    in_progress = a_file(FileStatus.PENDING, purpose=FilePurpose.ATTACHMENT)
    ready = a_file(FileStatus.READY, age=DAYS_AGO)
    for stored in (expired, in_progress, ready):
        await keep(container, stored, b"0123456789")

    await run(container, COLLECT_FILE_GARBAGE, {})

    assert await reread(container, expired) is None
    assert not await is_stored(container, expired.storage_key)
    for kept in (in_progress, ready):
        assert await reread(container, kept) is not None
        assert await is_stored(container, kept.storage_key)


@pytest.mark.parametrize(
    ("pending_ttl_seconds", "orphan_grace"),
    [(60, timedelta(days=1)), (86_400, timedelta(days=1)), (172_800, timedelta(days=2))],
)
def test_orphans_are_spared_a_day_or_as_long_as_a_direct_upload_may_take(
    pending_ttl_seconds: int, orphan_grace: timedelta
) -> None:
    settings = load_settings({"FILES_PENDING_TTL_SECONDS": str(pending_ttl_seconds)}, env_file=None)
    command = file_garbage_command(settings)
    assert command.pending_ttl == timedelta(seconds=pending_ttl_seconds)
    assert command.orphan_grace == orphan_grace
    assert not command.dry_run
    assert file_garbage_command(settings, dry_run=True).dry_run


async def test_an_articles_deletion_deletes_its_images_through_the_handler_table(
    container: AsyncContainer, database: InMemoryDatabase
) -> None:
    article, other_article = ArticleId(uuid4()), ArticleId(uuid4())
    images = [a_file(FileStatus.READY, article_id=article) for _ in range(2)]
    other_image = a_file(FileStatus.READY, article_id=other_article)
    for stored in (*images, other_image):
        await keep(container, stored, b"image bytes")
    deleted = ReceivedEvent(
        event_id=str(uuid4()),
        event_type="article.deleted",
        aggregate_type="article",
        aggregate_id=str(article.value),
        occurred_at=datetime.now(UTC),
        payload={"author_id": str(ADA), "slug": "gone", "deleted_by": str(MODERATOR)},
    )

    await dispatch(container, EVENT_HANDLERS, deleted)
    await dispatch(container, EVENT_HANDLERS, deleted)

    for image in images:
        recorded = await reread(container, image)
        assert recorded is not None
        assert recorded.status is FileStatus.DELETED
        assert not await is_stored(container, image.storage_key)
    untouched = await reread(container, other_image)
    assert untouched is not None
    assert untouched.status is FileStatus.READY
    assert await is_stored(container, other_image.storage_key)
    file_deletions = [m.event for m in database.outbox if isinstance(m.event, FileDeleted)]
    assert sorted(event.aggregate_id for event in file_deletions) == sorted(
        str(image.id) for image in images
    ), "one file.deleted per image, once though the event came twice"
    assert {event.deleted_by for event in file_deletions} == {str(MODERATOR)}


def test_article_deletions_go_to_the_files_consumer() -> None:
    assert [
        (subscription.consumer, subscription.handler.__name__)
        for subscription in EVENT_HANDLERS.for_event("article.deleted")
    ] == [("files.article-images", "DeleteArticleImages")]
