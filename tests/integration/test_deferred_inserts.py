"""Inserts deferred to the commit: atomic, ordered, visible to their repository, and cheap.

A sign-in's unit of work holds only a deferred session and its event; these tests check
that it reaches PostgreSQL as one statement with no BEGIN or COMMIT, and that deferring
never costs the guarantees an immediate insert gives.
"""

import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Self
from uuid import UUID

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.memory.system import SequentialIdGenerator
from adapters.sqlalchemy.deferred_inserts import MAX_ROWS
from adapters.sqlalchemy.outbox import SqlOutboxReader
from adapters.sqlalchemy.sessions import SqlSessionRepository
from adapters.sqlalchemy.tables import sessions as sessions_table
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from adapters.sqlalchemy.users import SqlUserRepository
from domain.users.session import Session
from domain.users.values import UserId
from tests.support.events import Counter
from tests.support.postgres import engine_for_tests, truncate_all
from tests.support.users import stored_user

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 1, tzinfo=UTC)
ADA = UserId(UUID(int=1))


def new_session(number: int) -> Session:
    return Session.open(
        id=UUID(int=100 + number),
        user_id=ADA,
        token_hash=f"hash-{number}",
        now=NOW,
        ttl=timedelta(days=30),
        device="laptop",
        ip="10.0.0.1",
    )


@pytest.fixture(params=["autocommit", "transactional"])
async def engine(request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    engine = engine_for_tests(
        request.getfixturevalue("migrated_url"), autocommit=request.param == "autocommit"
    )
    async with (
        engine.connect() as connection,
        SqlAlchemyUnitOfWork(connection, SequentialIdGenerator()) as uow,
    ):
        await SqlUserRepository(connection).add(stored_user(ADA, "ada", now=NOW))
        await uow.commit()
    try:
        yield engine
    finally:
        await truncate_all(engine)
        await engine.dispose()


async def stored_sessions(engine: AsyncEngine) -> list[UUID]:
    async with engine.connect() as connection:
        rows = await connection.execute(sa.select(sessions_table.c.id).order_by("id"))
        return [row[0] for row in rows]


async def stored_amounts(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as connection:
        messages = await SqlOutboxReader(connection).pending(limit=1000)
        return [message.event.amount for message in messages]  # type: ignore[attr-defined]


class ProtocolTrace:
    """libpq's own trace of what one connection sends, to see which statements went out."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self._path = Path(tempfile.mkstemp(suffix=".trace")[1])
        self._descriptor = -1

    async def __aenter__(self) -> Self:
        raw = await self._connection.get_raw_connection()
        self._pgconn = raw.driver_connection.pgconn  # type: ignore[union-attr]
        self._descriptor = os.open(self._path, os.O_WRONLY | os.O_APPEND)
        self._pgconn.trace(self._descriptor)
        return self

    async def __aexit__(self, *_: object) -> None:
        self._pgconn.untrace()
        os.close(self._descriptor)

    def sent(self) -> list[str]:
        """The Query and Parse/Bind messages the client sent, one line each."""
        text = self._path.read_text()
        self._path.unlink()
        kinds = ("\tQuery\t", "\tParse\t", "\tBind\t")
        return [
            line
            for line in text.splitlines()
            if "\tF\t" in line and any(kind in line for kind in kinds)
        ]


async def test_a_unit_of_work_of_inserts_alone_is_one_statement(engine: AsyncEngine) -> None:
    counter = Counter("signed-in")
    async with engine.connect() as connection:
        uow = SqlAlchemyUnitOfWork(connection, SequentialIdGenerator())
        async with uow:
            await SqlSessionRepository(connection).add(new_session(1))
            counter.increment(1, now=NOW)
            uow.track(counter)
            async with ProtocolTrace(connection) as trace:
                await uow.commit()
        sent = trace.sent()

    assert not [line for line in sent if "BEGIN" in line or "COMMIT" in line], sent
    assert len([line for line in sent if "\tBind\t" in line or "\tQuery\t" in line]) == 1, sent
    assert await stored_sessions(engine) == [UUID(int=101)]
    assert await stored_amounts(engine) == [1]


@dataclass(frozen=True)
class Storage:
    """A unit of work and the session repository, on one connection, as a request has."""

    sessions: SqlSessionRepository
    uow: SqlAlchemyUnitOfWork


@pytest.fixture
async def storage(engine: AsyncEngine) -> AsyncIterator[Storage]:
    async with engine.connect() as connection:
        yield Storage(
            SqlSessionRepository(connection),
            SqlAlchemyUnitOfWork(connection, SequentialIdGenerator()),
        )


async def test_leaving_without_commit_writes_no_deferred_row(
    engine: AsyncEngine, storage: Storage
) -> None:
    async with storage.uow:
        await storage.sessions.add(new_session(1))
    assert await stored_sessions(engine) == []
    async with storage.uow:
        await storage.sessions.add(new_session(2))
        await storage.uow.commit()
    assert await stored_sessions(engine) == [UUID(int=102)]


async def test_the_repository_sees_its_deferred_row_and_a_rollback_still_drops_it(
    engine: AsyncEngine, storage: Storage
) -> None:
    async with storage.uow:
        await storage.sessions.add(new_session(1))
        assert await storage.sessions.get(UUID(int=101)) == new_session(1)
        await storage.uow.rollback()
    assert await stored_sessions(engine) == []

    async with storage.uow:
        await storage.sessions.add(new_session(2))
        assert [s.id for s in await storage.sessions.list_for_user(ADA)] == [UUID(int=102)]
        await storage.uow.commit()
    assert await stored_sessions(engine) == [UUID(int=102)]


async def test_a_write_before_the_commit_keeps_the_inserts_in_its_transaction(
    engine: AsyncEngine, storage: Storage
) -> None:
    counter = Counter("c")
    async with storage.uow:
        await storage.sessions.add(new_session(1))
        await storage.sessions.revoke_all_for_user(ADA, at=NOW, reason="test")
        counter.increment(1, now=NOW)
        storage.uow.track(counter)
    assert await stored_sessions(engine) == []
    assert await stored_amounts(engine) == []


@pytest.mark.parametrize("events", [3, MAX_ROWS + 4])
async def test_events_keep_their_order_beside_a_deferred_row(
    engine: AsyncEngine, storage: Storage, events: int
) -> None:
    counter = Counter("c")
    async with storage.uow:
        await storage.sessions.add(new_session(1))
        for amount in range(events):
            counter.increment(amount, now=NOW)
        storage.uow.track(counter)
        await storage.uow.commit()
    assert await stored_amounts(engine) == list(range(events))
    assert await stored_sessions(engine) == [UUID(int=101)]


async def test_outside_a_unit_of_work_the_insert_happens_at_once(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await SqlSessionRepository(connection).add(new_session(1))
        await connection.commit()
    assert await stored_sessions(engine) == [UUID(int=101)]
