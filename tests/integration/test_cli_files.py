"""`portico files stats` and `portico files gc`, run as an operator runs them.

Files are recorded in PostgreSQL and stored in a local STORAGE_LOCAL_DIR through the
application's own container; the real `portico` executable then reads and collects them.
"""

import asyncio
import json
import os
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from dishka import AsyncContainer
from sqlalchemy.ext.asyncio import AsyncEngine

from application.common.ports.unit_of_work import UnitOfWork
from application.files.ports import FileRepository, FileStorage
from application.users.ports import UserRepository
from domain.files.stored_file import StoredFile, storage_key_for
from domain.files.values import FileId, FileName, FilePurpose, FileStatus, Sha256Digest
from domain.users.user import User
from domain.users.values import Email, UserId, Username
from entrypoints.config import load_settings
from entrypoints.ioc import make_container
from tests.support.server import clean_env, run_portico

pytestmark = pytest.mark.integration

ADA = UserId(UUID(int=0xADA))
LONG_AGO = timedelta(days=2)
"""Older than the default orphan grace (an hour) and FILES_PENDING_TTL_SECONDS."""


@dataclass
class FilesWorld:
    """One database schema and one storage directory, shared by the test and the CLI."""

    container: AsyncContainer
    storage_dir: Path
    env: dict[str, str]
    cwd: Path

    async def portico(self, *args: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(run_portico, *args, env=self.env, cwd=self.cwd)

    async def record(self, *files: StoredFile) -> None:
        async with self.container() as request:
            uow, repository = await request.get(UnitOfWork), await request.get(FileRepository)
            async with uow:
                for stored in files:
                    await repository.add(stored)
                await uow.commit()

    async def statuses(self, *files: StoredFile) -> list[FileStatus | None]:
        async with self.container() as request:
            uow, repository = await request.get(UnitOfWork), await request.get(FileRepository)
            async with uow:
                found = [await repository.get(stored.id) for stored in files]
        return [stored.status if stored else None for stored in found]

    async def store(self, key: str, data: bytes, *, age: timedelta = timedelta(0)) -> None:
        """Put an object, last modified `age` ago."""
        storage = await self.container.get(FileStorage)

        async def chunks() -> AsyncIterator[bytes]:
            yield data

        await storage.put(key, chunks(), content_type="application/octet-stream")
        then = (datetime.now(UTC) - age).timestamp()
        os.utime(self.storage_dir / key, (then, then))

    async def keys(self) -> set[str]:
        storage = await self.container.get(FileStorage)
        return {found.key async for found in storage.objects()}


@pytest.fixture
async def world(
    migrated_url: str, clean_database: AsyncEngine, tmp_path: Path
) -> AsyncIterator[FilesWorld]:
    """Ada registered; nothing recorded or stored yet."""
    del clean_database  # empties every table after the test
    variables = {
        "DATABASE_URL": migrated_url,
        "DATA_DIR": str(tmp_path / "data"),
        "STORAGE_BACKEND": "local",
        "STORAGE_LOCAL_DIR": str(tmp_path / "uploads"),
        "LOG_LEVEL": "WARNING",
    }
    container = make_container(load_settings(variables, env_file=None))
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
        yield FilesWorld(
            container=container,
            storage_dir=tmp_path / "uploads",
            env=clean_env(**variables),
            cwd=tmp_path,
        )
    finally:
        await container.close()


def a_file(
    purpose: FilePurpose,
    status: FileStatus,
    size: int,
    *,
    age: timedelta = timedelta(0),
    content_type: str = "image/png",
) -> StoredFile:
    file_id = FileId(uuid4())
    moment = datetime.now(UTC) - age
    return StoredFile(
        id=file_id,
        owner_id=ADA,
        purpose=purpose,
        name=FileName(f"{purpose.value}-{size}"),
        content_type=content_type,
        size=size,
        sha256=Sha256Digest("ab" * 32),
        storage_key=storage_key_for(file_id),
        backend="local",
        status=status,
        created_at=moment,
        updated_at=moment,
    )


def table(output: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines()]


async def test_stats_of_no_files_says_so_as_text_and_as_json(world: FilesWorld) -> None:
    text, as_json = (
        await world.portico("files", "stats"),
        await world.portico("files", "stats", "--json"),
    )
    assert text.returncode == 0, text.stderr
    assert text.stdout == "no files recorded\n"
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == []


async def test_stats_counts_files_and_bytes_per_purpose_backend_and_status(
    world: FilesWorld,
) -> None:
    await world.record(
        a_file(FilePurpose.ARTICLE_IMAGE, FileStatus.READY, 1000),
        a_file(FilePurpose.ARTICLE_IMAGE, FileStatus.READY, 2048),
        a_file(FilePurpose.ATTACHMENT, FileStatus.PENDING, 5 * 1_048_576, content_type="a/b"),
        a_file(FilePurpose.AVATAR, FileStatus.DELETED, 10),
    )

    text = await world.portico("files", "stats")
    as_json = await world.portico("files", "stats", "--json")

    assert text.returncode == 0, text.stderr
    assert table(text.stdout) == [
        ["purpose", "backend", "status", "count", "bytes", "size"],
        ["article_image", "local", "ready", "2", "3048", "3.0", "KiB"],
        ["attachment", "local", "pending", "1", "5242880", "5.0", "MiB"],
        ["avatar", "local", "deleted", "1", "10", "10", "B"],
        ["total", "4", "5245938", "5.0", "MiB"],
    ]
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == [
        {
            "purpose": "article_image",
            "backend": "local",
            "status": "ready",
            "count": 2,
            "bytes": 3048,
        },
        {
            "purpose": "attachment",
            "backend": "local",
            "status": "pending",
            "count": 1,
            "bytes": 5_242_880,
        },
        {"purpose": "avatar", "backend": "local", "status": "deleted", "count": 1, "bytes": 10},
    ]


async def test_gc_removes_an_expired_upload_and_an_old_orphan_and_a_dry_run_nothing(
    world: FilesWorld,
) -> None:
    expired = a_file(FilePurpose.ATTACHMENT, FileStatus.PENDING, 7, age=LONG_AGO)
    in_progress = a_file(FilePurpose.ATTACHMENT, FileStatus.PENDING, 7)
    ready = a_file(FilePurpose.AVATAR, FileStatus.READY, 5, age=LONG_AGO)
    await world.record(expired, in_progress, ready)
    await world.store(expired.storage_key, b"7 bytes", age=LONG_AGO)
    await world.store(ready.storage_key, b"image", age=LONG_AGO)
    orphan, young_orphan = storage_key_for(FileId(uuid4())), storage_key_for(FileId(uuid4()))
    await world.store(orphan, b"left behind", age=LONG_AGO)
    await world.store(young_orphan, b"an upload about to be recorded")
    every_key = {expired.storage_key, ready.storage_key, orphan, young_orphan}
    assert await world.keys() == every_key

    dry_run = await world.portico("files", "gc", "--dry-run")

    assert dry_run.returncode == 0, dry_run.stderr
    assert dry_run.stdout.splitlines() == [
        "expired uploads  1",
        "discarded files  0",
        "orphan objects   1 (11 B)",
        "dry run: nothing was removed",
    ]
    assert await world.keys() == every_key
    assert await world.statuses(expired, in_progress, ready) == [
        FileStatus.PENDING,
        FileStatus.PENDING,
        FileStatus.READY,
    ]

    collected = await world.portico("files", "gc")

    assert collected.returncode == 0, collected.stderr
    assert collected.stdout.splitlines() == [
        "expired uploads  1",
        "discarded files  0",
        "orphan objects   1 (11 B)",
    ]
    assert await world.keys() == {ready.storage_key, young_orphan}
    assert await world.statuses(expired, in_progress, ready) == [
        None,
        FileStatus.PENDING,
        FileStatus.READY,
    ]

    again = await world.portico("files", "gc")

    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [
        "expired uploads  0",
        "discarded files  0",
        "orphan objects   0 (0 B)",
    ]


async def test_gc_on_an_unwritable_storage_directory_is_one_line_and_exit_1(
    world: FilesWorld,
) -> None:
    blocker = world.cwd / "not-a-directory"
    blocker.write_text("a file where the storage directory should be")
    env = {**world.env, "STORAGE_LOCAL_DIR": str(blocker / "uploads")}

    result = await asyncio.to_thread(run_portico, "files", "gc", env=env, cwd=world.cwd)

    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("portico: file storage failed: ")
    assert line.endswith("then run the command again")
    assert result.stdout == ""
