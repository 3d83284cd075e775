"""The `SessionRepository` contract, on the memory and PostgreSQL adapters."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from adapters.memory.database import InMemoryDatabase
from adapters.memory.sessions import InMemorySessionRepository
from adapters.memory.users import InMemoryUserRepository
from adapters.sqlalchemy.sessions import SqlSessionRepository
from adapters.sqlalchemy.users import SqlUserRepository
from application.users.ports import SessionRepository, UserRepository
from domain.users.session import Session
from domain.users.values import UserId
from tests.support.postgres import engine_for_tests, truncate_all
from tests.support.users import stored_user

NOW = datetime(2026, 6, 1, tzinfo=UTC)
ADA, BOB = UserId(UUID(int=1)), UserId(UUID(int=2))


def session(number: int, user: UserId, token_hash: str, *, at: datetime = NOW) -> Session:
    return Session.open(
        id=UUID(int=100 + number),
        user_id=user,
        token_hash=token_hash,
        now=at,
        ttl=timedelta(days=30),
        device="laptop",
        ip="10.0.0.1",
    )


@pytest.fixture(params=["memory", pytest.param("sqlalchemy", marks=pytest.mark.integration)])
async def sessions(request: pytest.FixtureRequest) -> AsyncIterator[SessionRepository]:
    async with AsyncExitStack() as stack:
        if request.param == "memory":
            database = InMemoryDatabase()
            users: UserRepository = InMemoryUserRepository(database)
            repository: SessionRepository = InMemorySessionRepository(database)
        else:
            engine = engine_for_tests(request.getfixturevalue("migrated_url"))
            stack.push_async_callback(engine.dispose)
            stack.push_async_callback(truncate_all, engine)
            connection = await stack.enter_async_context(engine.connect())
            await connection.begin()
            users, repository = SqlUserRepository(connection), SqlSessionRepository(connection)
        for user_id, name in ((ADA, "ada"), (BOB, "bob")):
            await users.add(stored_user(user_id, name, now=NOW))
        yield repository


async def test_a_session_round_trips(sessions: SessionRepository) -> None:
    original = session(1, ADA, "hash-1")
    await sessions.add(original)
    loaded = await sessions.get(original.id)
    assert loaded == original


async def test_find_by_current_hash_is_not_a_reuse(sessions: SessionRepository) -> None:
    await sessions.add(session(1, ADA, "hash-1"))
    match = await sessions.find_by_token_hash("hash-1")
    assert match is not None
    assert not match.reused
    assert await sessions.find_by_token_hash("nope") is None


async def test_rotated_hashes_are_found_as_reuse(sessions: SessionRepository) -> None:
    stored = session(1, ADA, "hash-1")
    await sessions.add(stored)
    stored.rotate(
        "hash-2",
        now=NOW + timedelta(minutes=1),
        ttl=timedelta(days=30),
        max_lifetime=timedelta(days=90),
    )
    stored.rotate(
        "hash-3",
        now=NOW + timedelta(minutes=2),
        ttl=timedelta(days=30),
        max_lifetime=timedelta(days=90),
    )
    await sessions.save(stored)
    for old in ("hash-1", "hash-2"):
        match = await sessions.find_by_token_hash(old)
        assert match is not None
        assert match.reused
        assert match.session.id == stored.id
    current = await sessions.find_by_token_hash("hash-3")
    assert current is not None
    assert not current.reused
    assert current.session.last_used_at == NOW + timedelta(minutes=2)
    assert (current.retired_at, current.retired_by) == (None, None)


async def test_a_retired_hash_says_when_and_by_whom_it_was_rotated(
    sessions: SessionRepository,
) -> None:
    stored = session(1, ADA, "hash-1")
    await sessions.add(stored)
    for number, by in ((2, "client-a"), (3, None)):
        stored.rotate(
            f"hash-{number}",
            now=NOW + timedelta(seconds=number),
            ttl=timedelta(days=30),
            max_lifetime=timedelta(days=90),
            by=by,
        )
        await sessions.save(stored)
    first = await sessions.find_by_token_hash("hash-1")
    second = await sessions.find_by_token_hash("hash-2")
    assert first is not None
    assert second is not None
    assert (first.reused, first.retired_at, first.retired_by) == (
        True,
        NOW + timedelta(seconds=2),
        "client-a",
    )
    assert (second.retired_at, second.retired_by) == (NOW + timedelta(seconds=3), None)
    assert first.session.token_hash == "hash-3"


async def test_revoke_all_touches_only_that_users_active_sessions(
    sessions: SessionRepository,
) -> None:
    ended = session(1, ADA, "a1")
    ended.revoke(now=NOW, reason="logout")
    for item in (ended, session(2, ADA, "a2"), session(3, ADA, "a3"), session(4, BOB, "b1")):
        await sessions.add(item)
    assert await sessions.revoke_all_for_user(ADA, at=NOW, reason="everywhere") == 2
    mine = await sessions.list_for_user(ADA)
    assert all(s.revoked_at is not None for s in mine)
    (bobs,) = await sessions.list_for_user(BOB)
    assert bobs.revoked_at is None


async def test_sessions_are_listed_newest_first(sessions: SessionRepository) -> None:
    for number in range(3):
        await sessions.add(session(number, ADA, f"h{number}", at=NOW + timedelta(hours=number)))
    listed = await sessions.list_for_user(ADA)
    assert [s.token_hash for s in listed] == ["h2", "h1", "h0"]


async def test_purge_removes_only_sessions_that_ended_before_the_cutoff(
    sessions: SessionRepository,
) -> None:
    revoked = session(1, ADA, "r1")
    revoked.revoke(now=NOW + timedelta(days=1), reason="logout")
    rotated = session(2, ADA, "x1", at=NOW - timedelta(days=40))
    rotated.rotate(
        "x2", now=NOW - timedelta(days=39), ttl=timedelta(days=1), max_lifetime=timedelta(days=90)
    )
    live = session(3, BOB, "b1")
    for each in (revoked, rotated, live):
        await sessions.add(each)
    await sessions.save(rotated)
    assert await sessions.purge_ended(before=NOW) == 1, "only the long-expired one"
    assert await sessions.find_by_token_hash("x1") is None, "its retired hashes went with it"
    assert await sessions.purge_ended(before=NOW + timedelta(days=2)) == 1
    assert [s.id for s in await sessions.list_for_user(BOB)] == [live.id]
    assert await sessions.get(revoked.id) is None
