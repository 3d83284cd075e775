"""The `OneTimeTokenRepository` contract, on the memory and PostgreSQL adapters."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from adapters.memory.database import InMemoryDatabase
from adapters.memory.one_time_tokens import InMemoryOneTimeTokenRepository
from adapters.memory.users import InMemoryUserRepository
from adapters.sqlalchemy.one_time_tokens import SqlOneTimeTokenRepository
from adapters.sqlalchemy.users import SqlUserRepository
from application.users.ports import OneTimeTokenRepository
from domain.users.one_time_token import (
    LINKS_VOIDED_BY_ACCOUNT_CHANGES,
    OneTimeToken,
    TokenPurpose,
)
from domain.users.values import Email, UserId
from tests.support.postgres import engine_for_tests, truncate_all
from tests.support.users import stored_user

NOW = datetime(2026, 7, 1, tzinfo=UTC)
ADA = UserId(UUID(int=1))


ADDRESS = Email.parse("ada@t.co")


def token(token_hash: str, purpose: TokenPurpose = TokenPurpose.VERIFY_EMAIL) -> OneTimeToken:
    return OneTimeToken.issue(
        token_hash=token_hash,
        user_id=ADA,
        purpose=purpose,
        email=ADDRESS,
        now=NOW,
        ttl=timedelta(hours=1),
    )


@pytest.fixture(params=["memory", pytest.param("sqlalchemy", marks=pytest.mark.integration)])
async def tokens(request: pytest.FixtureRequest) -> AsyncIterator[OneTimeTokenRepository]:
    async with AsyncExitStack() as stack:
        if request.param == "memory":
            database = InMemoryDatabase()
            users = InMemoryUserRepository(database)
            repository: OneTimeTokenRepository = InMemoryOneTimeTokenRepository(database)
        else:
            engine = engine_for_tests(request.getfixturevalue("migrated_url"))
            stack.push_async_callback(engine.dispose)
            stack.push_async_callback(truncate_all, engine)
            connection = await stack.enter_async_context(engine.connect())
            await connection.begin()
            users, repository = SqlUserRepository(connection), SqlOneTimeTokenRepository(connection)  # type: ignore[assignment]
        await users.add(stored_user(ADA, "ada", now=NOW))
        yield repository


async def test_a_token_is_consumed_exactly_once(tokens: OneTimeTokenRepository) -> None:
    await tokens.add(token("h1"))
    used = await tokens.consume("h1", TokenPurpose.VERIFY_EMAIL, now=NOW + timedelta(minutes=1))
    assert used is not None
    assert (used.user_id, used.used_at, used.email) == (ADA, NOW + timedelta(minutes=1), ADDRESS)
    assert await tokens.consume("h1", TokenPurpose.VERIFY_EMAIL, now=NOW) is None


async def test_a_token_serves_only_its_purpose(tokens: OneTimeTokenRepository) -> None:
    await tokens.add(token("h1", TokenPurpose.RESET_PASSWORD))
    assert await tokens.consume("h1", TokenPurpose.VERIFY_EMAIL, now=NOW) is None
    assert await tokens.consume("h1", TokenPurpose.RESET_PASSWORD, now=NOW) is not None


async def test_an_expired_or_unknown_token_is_not_consumed(tokens: OneTimeTokenRepository) -> None:
    await tokens.add(token("h1"))
    assert (
        await tokens.consume("h1", TokenPurpose.VERIFY_EMAIL, now=NOW + timedelta(hours=2)) is None
    )
    assert await tokens.consume("nope", TokenPurpose.VERIFY_EMAIL, now=NOW) is None


async def test_finding_a_usable_token_takes_what_consume_would_and_leaves_it(
    tokens: OneTimeTokenRepository,
) -> None:
    verify, later = TokenPurpose.VERIFY_EMAIL, NOW + timedelta(minutes=1)
    await tokens.add(token("h1"))
    await tokens.add(token("h2"))
    found = await tokens.find_usable("h1", verify, now=later)
    assert found is not None
    assert (found.user_id, found.used_at, found.email) == (ADA, None, ADDRESS)
    assert await tokens.find_usable("h1", verify, now=later) is not None  # still unspent
    assert await tokens.find_usable("h1", TokenPurpose.RESET_PASSWORD, now=later) is None
    assert await tokens.find_usable("h1", verify, now=NOW + timedelta(hours=2)) is None
    assert await tokens.find_usable("nope", verify, now=later) is None
    assert await tokens.consume("h2", verify, now=later) is not None
    assert await tokens.find_usable("h2", verify, now=later) is None
    assert await tokens.consume("h1", verify, now=later) is not None


@pytest.mark.integration
async def test_racing_consumers_on_postgres_have_one_winner(migrated_url: str) -> None:
    engine = engine_for_tests(migrated_url)
    try:
        async with engine.begin() as connection:
            await SqlUserRepository(connection).add(stored_user(ADA, "ada", now=NOW))
            await SqlOneTimeTokenRepository(connection).add(token("race"))

        async def consume() -> bool:
            async with engine.begin() as connection:
                won = await SqlOneTimeTokenRepository(connection).consume(
                    "race", TokenPurpose.VERIFY_EMAIL, now=NOW
                )
                return won is not None

        results = await asyncio.gather(*(consume() for _ in range(5)))
        assert sum(results) == 1
    finally:
        await truncate_all(engine)
        await engine.dispose()


async def test_purge_removes_tokens_expired_or_used_before_the_cutoff(
    tokens: OneTimeTokenRepository,
) -> None:
    for token_hash in ("used", "fresh", "expiring"):
        await tokens.add(token(token_hash))
    await tokens.consume("used", TokenPurpose.VERIFY_EMAIL, now=NOW + timedelta(minutes=1))
    assert await tokens.purge_ended(before=NOW + timedelta(minutes=30)) == 1
    assert await tokens.purge_ended(before=NOW + timedelta(hours=2)) == 2
    assert await tokens.consume("fresh", TokenPurpose.VERIFY_EMAIL, now=NOW) is None


async def test_a_token_from_before_addresses_were_bound_proves_none(
    tokens: OneTimeTokenRepository,
) -> None:
    legacy = token("old")
    legacy.email = None
    await tokens.add(legacy)
    used = await tokens.consume("old", TokenPurpose.VERIFY_EMAIL, now=NOW)
    assert used is not None
    assert used.email is None
    assert not used.proves(ADDRESS)


async def test_invalidating_voids_only_the_purposes_named(tokens: OneTimeTokenRepository) -> None:
    for purpose in TokenPurpose:
        await tokens.add(token(purpose.value, purpose))
    await tokens.invalidate_all(ADA, LINKS_VOIDED_BY_ACCOUNT_CHANGES, now=NOW)
    for purpose in LINKS_VOIDED_BY_ACCOUNT_CHANGES:
        assert await tokens.consume(purpose.value, purpose, now=NOW) is None
    restore = TokenPurpose.RESTORE_EMAIL
    assert await tokens.consume(restore.value, restore, now=NOW) is not None
