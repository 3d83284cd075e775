"""Alembic environment: async engine from `portico db`, or a connection handed in by tests.

`portico db` holds a session-level advisory lock while it migrates, so migrations started at
once (a Job retried while its first pod still runs, init containers of several replicas)
run one after the other: the second finds the schema at head and does nothing.
"""

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.sqlalchemy.engine import to_psycopg_url
from adapters.sqlalchemy.lease import advisory_key
from adapters.sqlalchemy.tables import metadata

config = context.config
target_metadata = metadata
MIGRATION_LOCK_KEY = advisory_key("portico.migrations")


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=config.get_main_option("version_table") or "alembic_version",
        compare_type=True,
        compare_server_default=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async() -> None:
    url = config.attributes.get("database_url")
    if not url:
        raise SystemExit("run migrations with `portico db ...`, which supplies the database URL")
    engine = create_async_engine(to_psycopg_url(url))
    try:
        async with engine.connect() as connection:
            await connection.execute(
                text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
            await connection.commit()
            await connection.run_sync(run_with)
            await connection.commit()
    finally:
        await engine.dispose()


def run_offline() -> None:
    url = config.attributes.get("database_url")
    context.configure(
        url=to_psycopg_url(url) if url else "postgresql+psycopg://",
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
elif (connection := config.attributes.get("connection")) is not None:
    run_with(connection)
else:
    asyncio.run(run_async())
