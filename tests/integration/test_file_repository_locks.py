"""The file repository's locks on PostgreSQL: quota checks of one owner run one at a time.

Two connections stand for two uploads; each step of the interleaving is forced, so each
test shows the race every time rather than now and then.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.memory.system import SequentialIdGenerator
from adapters.sqlalchemy.files import SqlFileRepository
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from adapters.sqlalchemy.users import SqlUserRepository
from domain.files.stored_file import StoredFile
from domain.files.values import FileId, FileName, FilePurpose, Sha256Digest
from domain.users.user import User
from domain.users.values import Email, UserId, Username
from tests.support.postgres import engine_for_tests, truncate_all

pytestmark = pytest.mark.integration

NOW = datetime(2026, 9, 1, tzinfo=UTC)
ADA, BOB = UserId(UUID(int=1)), UserId(UUID(int=2))
QUOTA = 150
UPLOAD = 100
WAIT = 0.3
"""How long a blocked statement is given to show that it waits."""


def uow(connection: AsyncConnection) -> SqlAlchemyUnitOfWork:
    return SqlAlchemyUnitOfWork(connection, SequentialIdGenerator())


def announced(number: int, owner: UserId = ADA, size: int = UPLOAD) -> StoredFile:
    return StoredFile.announced(
        id=FileId(UUID(int=1000 + number)),
        owner_id=owner,
        purpose=FilePurpose.ATTACHMENT,
        name=FileName(f"upload-{number}.pdf"),
        content_type="application/pdf",
        size=size,
        sha256=Sha256Digest("ab" * 32),
        backend="local",
        now=NOW,
    )


@pytest.fixture
async def engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine like the app's, with Ada and Bob registered."""
    engine = engine_for_tests(migrated_url, autocommit=True)
    try:
        async with engine.connect() as connection, uow(connection) as setup:
            users = SqlUserRepository(connection)
            for user_id, name in ((ADA, "ada"), (BOB, "bob")):
                await users.add(
                    User.register(
                        id=user_id,
                        username=Username(name),
                        email=Email.parse(f"{name}@test.com"),
                        password_hash="hash",
                        now=NOW,
                    )
                )
            await setup.commit()
        yield engine
    finally:
        await truncate_all(engine)
        await engine.dispose()


@pytest.mark.parametrize("first_commits", [True, False])
async def test_a_locked_check_waits_for_the_holder_and_then_sees_what_it_committed(
    engine: AsyncEngine, *, first_commits: bool
) -> None:
    async with engine.connect() as first, engine.connect() as second, uow(first) as holding:
        files = SqlFileRepository(first)
        assert await files.bytes_in_use(ADA, lock=True) == 0
        await files.add(announced(1))
        async with uow(second):
            waiting = asyncio.create_task(SqlFileRepository(second).bytes_in_use(ADA, lock=True))
            await asyncio.sleep(WAIT)
            assert not waiting.done(), "the second check waits for the first transaction"
            if first_commits:
                await holding.commit()
            else:
                await holding.rollback()
            seen = await asyncio.wait_for(waiting, timeout=10)
    assert seen == (UPLOAD if first_commits else 0)


async def test_of_two_racing_uploads_only_one_fits_into_the_last_bytes(
    engine: AsyncEngine,
) -> None:
    """Each upload, having checked, waits for the other to check too before it adds.

    Without the lock both would read 0 bytes in use and both would add theirs.
    """
    checked = {1: asyncio.Event(), 2: asyncio.Event()}

    async def upload(number: int, other: int) -> bool:
        async with engine.connect() as connection, uow(connection) as unit:
            files = SqlFileRepository(connection)
            in_use = await files.bytes_in_use(ADA, lock=True)
            checked[number].set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(checked[other].wait(), timeout=WAIT)
            if in_use + UPLOAD > QUOTA:
                return False
            await files.add(announced(number))
            await unit.commit()
            return True

    results = await asyncio.gather(upload(1, 2), upload(2, 1))
    assert sorted(results) == [False, True]
    async with engine.connect() as connection, uow(connection):
        assert await SqlFileRepository(connection).bytes_in_use(ADA) == UPLOAD


async def test_the_lock_holds_only_locked_checks_of_the_same_owner(engine: AsyncEngine) -> None:
    async with engine.connect() as first, engine.connect() as second, uow(first) as holding:
        files = SqlFileRepository(first)
        await files.bytes_in_use(ADA, lock=True)
        await files.add(announced(1))
        async with uow(second):
            others = SqlFileRepository(second)
            bob = await asyncio.wait_for(others.bytes_in_use(BOB, lock=True), timeout=WAIT)
            unlocked = await asyncio.wait_for(others.bytes_in_use(ADA), timeout=WAIT)
        assert (bob, unlocked) == (0, 0)
        await holding.commit()


async def test_the_lock_ends_with_the_transaction_not_the_connection(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as first, engine.connect() as second:
        async with uow(first) as holding:
            await SqlFileRepository(first).bytes_in_use(ADA, lock=True)
            await holding.commit()
        async with uow(second):
            checked = SqlFileRepository(second).bytes_in_use(ADA, lock=True)
            assert await asyncio.wait_for(checked, timeout=WAIT) == 0


async def test_a_locking_get_holds_the_record_until_the_transaction_ends(
    engine: AsyncEngine,
) -> None:
    pending = announced(1)
    async with engine.connect() as connection, uow(connection) as setup:
        await SqlFileRepository(connection).add(pending)
        await setup.commit()
    async with engine.connect() as first, engine.connect() as second, uow(first) as rejecting:
        files = SqlFileRepository(first)
        stored = await files.get(pending.id, for_update=True)
        assert stored is not None
        stored.reject(now=NOW)
        await files.save(stored)
        async with uow(second):
            others = SqlFileRepository(second)
            assert await asyncio.wait_for(others.get(pending.id), timeout=WAIT) is not None
            waiting = asyncio.create_task(others.get(pending.id, for_update=True))
            await asyncio.sleep(WAIT)
            assert not waiting.done(), "the second locking read waits for the first"
            await rejecting.commit()
            seen = await asyncio.wait_for(waiting, timeout=10)
    assert seen is not None
    assert seen.status is stored.status
