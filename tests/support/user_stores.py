"""The user repository and the profile reader on the memory and PostgreSQL adapters, for
the contract tests.

`user_stores` builds both on the adapter the fixture's param names (`STORE_KINDS`), over one
database, so a follow the repository records is one the reader sees; `make_user` makes the
users those tests store.
"""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import pytest

from adapters.memory.database import InMemoryDatabase
from adapters.memory.profiles import InMemoryProfileReader
from adapters.memory.users import InMemoryUserRepository
from adapters.sqlalchemy.profiles import SqlProfileReader
from adapters.sqlalchemy.users import SqlUserRepository
from application.profiles.ports import ProfileReader
from application.users.ports import UserRepository
from domain.users.user import User
from domain.users.values import Email, UserId, Username
from tests.support.postgres import engine_for_tests, truncate_all

NOW = datetime(2026, 5, 1, tzinfo=UTC)


def make_user(number: int, name: str) -> User:
    return User.register(
        id=UserId(UUID(int=number)),
        username=Username(name),
        email=Email.parse(f"{name}@test.com"),
        password_hash=f"hash-{name}",
        now=NOW,
    )


@dataclass
class Stores:
    users: UserRepository
    profiles: ProfileReader


STORE_KINDS = ["memory", pytest.param("sqlalchemy", marks=pytest.mark.integration)]


@asynccontextmanager
async def user_stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    """The stores on `request.param`'s adapter; on PostgreSQL they share one connection in a
    transaction, committed on leaving, and every table is emptied after."""
    if request.param == "memory":
        database = InMemoryDatabase()
        yield Stores(InMemoryUserRepository(database), InMemoryProfileReader(database))
        return
    engine = engine_for_tests(request.getfixturevalue("migrated_url"))
    try:
        async with AsyncExitStack() as stack:
            connection = await stack.enter_async_context(engine.connect())
            await connection.begin()
            yield Stores(SqlUserRepository(connection), SqlProfileReader(connection))
            await connection.commit()
    finally:
        await truncate_all(engine)
        await engine.dispose()
