"""PostgreSQL for tests: TEST_DATABASE_URL when set, else an embedded server; a schema per run."""

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.embedded_postgres.server import EmbeddedPostgres
from adapters.sqlalchemy.engine import create_engine, to_psycopg_url
from adapters.sqlalchemy.tables import metadata
from entrypoints.cli.db import alembic_config


@contextmanager
def postgres_server(test_database_url: str | None, data_dir: Path) -> Iterator[str]:
    """Yield a server URL: the given one, or an embedded server's for the test session."""
    if test_database_url:
        yield test_database_url
        return
    with EmbeddedPostgres(data_dir) as embedded:
        yield embedded.start()


def with_search_path(url: str, schema: str) -> str:
    """The same URL, with every connection's search_path set to `schema` (libpq options)."""
    parsed = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return parsed.render_as_string(hide_password=False)


@contextmanager
def isolated_schema(server_url: str, prefix: str = "test") -> Iterator[str]:
    """Create a uniquely named schema, yield a URL bound to it, and drop it afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(to_psycopg_url(server_url), poolclass=sa.NullPool)
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield with_search_path(server_url, schema)
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def run_alembic(url: str, action: str, revision: str) -> None:
    """Run an Alembic command in a thread of its own, since env.py runs its own event loop."""
    config = alembic_config(url)
    failure: list[BaseException] = []

    def target() -> None:
        try:
            getattr(command, action)(config, revision)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=target)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]


async def truncate_all(engine: AsyncEngine) -> None:
    """Empty every table the metadata declares."""
    names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def engine_for_tests(url: str, *, autocommit: bool = False) -> AsyncEngine:
    """An engine sized for tests; `autocommit` as the app's request connections use."""
    return create_engine(
        url,
        pool_size=5,
        max_overflow=5,
        pool_timeout_seconds=10,
        connect_timeout_seconds=5,
        application_name="portico-tests",
        autocommit=autocommit,
    )


def table_names(url: str) -> set[str]:
    """The tables in the schema that `url`'s search_path points at."""
    engine = sa.create_engine(to_psycopg_url(url), poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            )
            return {row[0] for row in rows}
    finally:
        engine.dispose()
