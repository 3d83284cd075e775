"""The thumbnail job in the worker: an upload's photo gets a WebP copy without its EXIF.

Everything is real: PostgreSQL, a local storage directory, Pillow, and jobs on a Redis
stream run by `portico worker`'s job loop.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from uuid import UUID

import pytest
from dishka import AsyncContainer
from loguru import logger
from PIL import ExifTags, Image
from sqlalchemy.ext.asyncio import AsyncEngine

from application.common.identity import Identity
from application.common.ports.task_queue import TaskQueue
from application.common.ports.unit_of_work import UnitOfWork
from application.files.make_thumbnail import MAKE_THUMBNAIL
from application.files.ports import FileRepository, FileStorage
from application.files.upload_file import UploadFile, UploadFileCommand
from application.users.ports import UserRepository
from domain.files.stored_file import StoredFile
from domain.files.values import FileId, FilePurpose
from domain.users.user import User
from domain.users.values import Email, Role, UserId, Username
from entrypoints.bootstrap import with_signing_secret
from entrypoints.config import Settings, load_settings
from entrypoints.ioc import make_container
from entrypoints.worker.receiver import run_jobs_until_stopped

pytestmark = pytest.mark.integration

ADA = UserId(UUID(int=0xADA))
THUMBNAIL_EDGE = 32
MAX_ATTEMPTS = 2


def worker_settings(migrated_url: str, redis_url: str, tmp_path: Path) -> Settings:
    return with_signing_secret(
        load_settings(
            {
                "DATABASE_URL": migrated_url,
                "DATA_DIR": str(tmp_path / "data"),
                "STORAGE_BACKEND": "local",
                "STORAGE_LOCAL_DIR": str(tmp_path / "uploads"),
                "FILES_THUMBNAIL_MAX_EDGE": str(THUMBNAIL_EDGE),
                "REDIS_URL": redis_url,
                "JOBS_QUEUE": "redis",
                "JOBS_STREAM": f"test:jobs:{uuid.uuid4().hex}",
                "JOBS_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
                "JOBS_RETRY_BASE_SECONDS": "0.01",
            },
            env_file=None,
        )
    )


def photo_with_gps() -> bytes:
    """A camera's JPEG: its EXIF names the camera and where the photo was taken."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Portico Test Camera"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 22.0, 12.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (4.0, 53.0, 41.0)
    buffer = BytesIO()
    Image.new("RGB", (320, 240), (200, 30, 30)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


@pytest.fixture
def log_lines() -> Iterator[list[tuple[str, str]]]:
    captured: list[tuple[str, str]] = []
    sink = logger.add(
        lambda message: captured.append((message.record["level"].name, message.record["message"])),
        level="WARNING",
    )
    yield captured
    logger.remove(sink)


@pytest.fixture
def settings(migrated_url: str, redis_url: str, tmp_path: Path) -> Settings:
    return worker_settings(migrated_url, redis_url, tmp_path)


@pytest.fixture
async def container(
    settings: Settings, clean_database: AsyncEngine
) -> AsyncIterator[AsyncContainer]:
    """The application's container on Redis jobs, with Ada registered."""
    del clean_database  # empties every table after the test
    container = make_container(settings)
    try:
        async with container() as request:
            uow, users = await request.get(UnitOfWork), await request.get(UserRepository)
            async with uow:
                await users.add(
                    User.register(
                        id=ADA,
                        username=Username("ada"),
                        email=Email.parse("ada@example.com"),
                        password_hash="hash",
                        now=datetime.now(UTC),
                    )
                )
                await uow.commit()
        yield container
    finally:
        await container.close()


async def upload(container: AsyncContainer, data: bytes) -> FileId:
    async def chunks() -> AsyncIterator[bytes]:
        yield data

    async with container() as request:
        upload_file = await request.get(UploadFile)
        view = await upload_file(
            UploadFileCommand(
                actor=Identity(user_id=ADA, role=Role.USER),
                purpose=FilePurpose.ARTICLE_IMAGE,
                name="holiday.jpg",
                chunks=chunks(),
                declared_size=len(data),
            )
        )
    return FileId(UUID(view.id))


async def stored_file(container: AsyncContainer, file_id: FileId) -> StoredFile:
    async with container() as request:
        uow = await request.get(UnitOfWork)
        files: FileRepository = await request.get(FileRepository)
        async with uow:
            found = await files.get(file_id)
    assert found is not None
    return found


async def thumbnail_of(container: AsyncContainer, file_id: FileId, within: float = 30) -> bytes:
    """The thumbnail's bytes, once the worker recorded it."""
    async with asyncio.timeout(within):
        while True:
            key = (await stored_file(container, file_id)).thumbnail_key
            if key is not None:
                break
            await asyncio.sleep(0.05)
    storage = await container.get(FileStorage)
    return b"".join([chunk async for chunk in storage.read(key)])


async def test_an_uploaded_photo_gets_a_webp_thumbnail_without_exif_from_the_worker(
    settings: Settings, container: AsyncContainer, log_lines: list[tuple[str, str]]
) -> None:
    """Malformed jobs ahead of it fail like any job's: retried, then dropped with one ERROR."""
    photo = photo_with_gps()
    with Image.open(BytesIO(photo)) as original:
        gps = original.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert gps[ExifTags.GPS.GPSLatitudeRef] == "N", "the upload carries a position"
    queue = await container.get(TaskQueue)
    await queue.enqueue(MAKE_THUMBNAIL, {"file_id": "not-a-file-id"})
    await queue.enqueue(MAKE_THUMBNAIL, {})
    stop = asyncio.Event()
    worker = asyncio.create_task(run_jobs_until_stopped(container, settings, stop))
    try:
        file_id = await upload(container, photo)
        thumbnail = await thumbnail_of(container, file_id)
        async with asyncio.timeout(30):
            while len(errors_in(log_lines)) < 2:  # noqa: ASYNC110 - the worker logs
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=15)

    with Image.open(BytesIO(thumbnail)) as small:
        assert small.format == "WEBP"
        assert small.size == (THUMBNAIL_EDGE, THUMBNAIL_EDGE * 3 // 4)
        assert len(small.getexif()) == 0
        assert "exif" not in small.info
        assert "xmp" not in small.info
    assert b"Exif" not in thumbnail
    assert b"Portico Test Camera" not in thumbnail
    assert (await stored_file(container, file_id)).size == len(photo), "the original is kept"
    dropped = f"job {MAKE_THUMBNAIL} failed {MAX_ATTEMPTS} times; giving up: "
    assert [line.startswith(dropped) for line in errors_in(log_lines)] == [True, True]


def errors_in(log_lines: list[tuple[str, str]]) -> list[str]:
    return [line for level, line in log_lines if level == "ERROR"]
