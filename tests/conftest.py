"""Fixtures shared by every suite: real servers for the session, isolated state per test."""

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.postgres import (
    engine_for_tests,
    isolated_schema,
    postgres_server,
    run_alembic,
    truncate_all,
)
from tests.support.redis_server import redis_server
from tests.support.s3_server import s3_server


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server: TEST_DATABASE_URL, or an embedded one for this session."""
    data_dir = tmp_path_factory.mktemp("postgres") / "data"
    with postgres_server(os.environ.get("TEST_DATABASE_URL"), data_dir) as url:
        yield url


@pytest.fixture(scope="session")
def migrated_url(postgres_url: str) -> Iterator[str]:
    """A schema of this run's own, migrated to head, dropped when the session ends."""
    with isolated_schema(postgres_url) as url:
        run_alembic(url, "upgrade", "head")
        yield url


@pytest.fixture(scope="session")
async def engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the migrated schema."""
    engine = engine_for_tests(migrated_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def clean_database(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """The engine, with every table emptied after the test, so no test sees another's rows."""
    yield engine
    await truncate_all(engine)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis server: TEST_REDIS_URL, or an embedded one for this session."""
    with redis_server(os.environ.get("TEST_REDIS_URL"), tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session")
def project_root() -> Path:
    """The repository's root directory."""
    return Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3-compatible server (moto, checking presigned URLs as S3 does) for this session.

    Its credentials are `tests.support.s3_server.ACCESS_KEY_ID` and `SECRET_ACCESS_KEY`;
    buckets outlive a test, so each test makes its own.
    """
    with s3_server() as endpoint:
        yield endpoint
