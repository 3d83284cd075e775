"""Library reliances that need a real server: aiokafka, SQLAlchemy and psycopg.

What each failure says, and what to do then: tests/support/reliance.py.
"""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import psycopg
import pytest
import sqlalchemy as sa
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaConnectionError
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sqlalchemy.precompiled import (
    PrecompiledStatements,
    execute_on_driver,
    fetch_all,
    fetch_all_on_driver,
)
from tests.support.kafka_cluster import kafka_mock_cluster
from tests.support.network import closed_port
from tests.support.postgres import engine_for_tests
from tests.support.reliance import Reliance

pytestmark = pytest.mark.integration

TIMEOUT = 10.0
REALTIME = "adapters/redis/realtime.py (RedisRealtimeBroadcaster)"


# --- aiokafka ------------------------------------------------------------------------------


async def test_aiokafka_client_bootstrap_fetches_metadata_or_raises() -> None:
    """The Kafka probe calls `AIOKafkaClient.bootstrap`, which aiokafka does not document."""
    with Reliance("aiokafka", where="adapters/kafka/health.py (KafkaProbe)") as aiokafka:
        with kafka_mock_cluster() as address:
            client = AIOKafkaClient(
                bootstrap_servers=address, request_timeout_ms=5000, client_id="reliance"
            )
            try:
                await client.bootstrap()
                brokers = client.cluster.brokers()
            finally:
                await client.close()
        aiokafka.check(brokers, "AIOKafkaClient.bootstrap() returned without cluster metadata")
        client = AIOKafkaClient(
            bootstrap_servers=f"127.0.0.1:{closed_port()}",
            request_timeout_ms=1000,
            client_id="reliance",
        )
        try:
            await client.bootstrap()
        except KafkaConnectionError:
            pass
        else:
            aiokafka.fail("AIOKafkaClient.bootstrap() no longer raises when no broker answers")
        finally:
            await client.close()


# --- SQLAlchemy and psycopg ----------------------------------------------------------------

_probe_metadata = sa.MetaData()
_probe = sa.Table(
    f"reliance_probe_{uuid.uuid4().hex[:8]}",
    _probe_metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
)


@pytest.fixture(scope="module")
async def probe_table(engine: AsyncEngine) -> AsyncIterator[sa.Table]:
    """A table of this module's own in the test schema, dropped afterwards."""
    async with engine.begin() as connection:
        await connection.run_sync(_probe_metadata.create_all)
    yield _probe
    async with engine.begin() as connection:
        await connection.run_sync(_probe_metadata.drop_all)


async def test_sqlalchemy_autocommit_isolation_is_the_psycopg_autocommit_flag(
    migrated_url: str,
) -> None:
    """The unit of work reads and flips autocommit on the psycopg connection."""
    engine = engine_for_tests(migrated_url, autocommit=True)
    try:
        with Reliance(
            "sqlalchemy",
            "psycopg",
            where="adapters/sqlalchemy/unit_of_work.py (SqlAlchemyUnitOfWork.__aenter__)",
        ) as sqlalchemy:
            async with engine.connect() as connection:
                driver: Any = (await connection.get_raw_connection()).driver_connection
                sqlalchemy.check(
                    isinstance(driver, psycopg.AsyncConnection),
                    f"driver_connection is now {type(driver)!r}, not psycopg.AsyncConnection",
                )
                sqlalchemy.check(
                    driver.autocommit is True,
                    "isolation_level='AUTOCOMMIT' no longer sets psycopg's autocommit",
                )
                await connection.execution_options(isolation_level="READ COMMITTED")
                sqlalchemy.check(
                    driver.autocommit is False
                    and driver.info.transaction_status == TransactionStatus.IDLE,
                    "switching to READ COMMITTED no longer just clears psycopg's autocommit "
                    f"(autocommit={driver.autocommit}, status={driver.info.transaction_status})",
                )
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                sqlalchemy.check(
                    driver.autocommit is True,
                    "switching back to AUTOCOMMIT no longer sets psycopg's autocommit",
                )
    finally:
        await engine.dispose()


async def test_sqlalchemy_begin_sends_nothing_and_psycopg_autocommit_can_flip_under_it(
    engine: AsyncEngine, probe_table: sa.Table
) -> None:
    """A commit-time insert runs alone, in autocommit, under SQLAlchemy's open transaction."""
    row_id = uuid.uuid4()
    probe = probe_table.name
    insert = f'INSERT INTO "{probe}" (id, n) VALUES (%(id)s, 1)'  # noqa: S608 - the probe table
    with Reliance(
        "sqlalchemy", "psycopg", where="adapters/sqlalchemy/deferred_inserts.py (send)"
    ) as sqlalchemy:
        async with engine.connect() as connection:
            await connection.begin()
            driver: Any = (await connection.get_raw_connection()).driver_connection
            status = driver.info.transaction_status
            sqlalchemy.check(
                connection.in_transaction() and status == TransactionStatus.IDLE,
                f"after AsyncConnection.begin() psycopg's transaction status is {status!r}: "
                "SQLAlchemy now sends BEGIN itself",
            )
            await connection.exec_driver_sql("SELECT 1")
            status = driver.info.transaction_status
            sqlalchemy.check(
                status == TransactionStatus.INTRANS,
                f"after a first statement psycopg's transaction status is {status!r}",
            )
            await connection.rollback()
            await connection.begin()
            await driver.set_autocommit(True)
            try:
                async with driver.cursor() as cursor:
                    await cursor.execute(insert, {"id": row_id})
            finally:
                await driver.set_autocommit(False)
            await connection.commit()
        async with engine.connect() as other:
            count = await other.scalar(
                sa.select(sa.func.count())
                .select_from(probe_table)
                .where(probe_table.c.id == row_id)
            )
        sqlalchemy.check(
            count == 1,
            "a row inserted in psycopg autocommit under SQLAlchemy's transaction was lost",
        )


async def test_precompiled_sql_runs_on_psycopg_and_through_exec_driver_sql(
    engine: AsyncEngine, probe_table: sa.Table
) -> None:
    """SQL compiled by a standalone psycopg dialect, run straight on psycopg with named values."""
    insert_two = PrecompiledStatements(
        lambda: sa.insert(probe_table).values(
            [
                {"id": sa.bindparam(f"p0_{row}_id"), "n": sa.bindparam(f"p0_{row}_n")}
                for row in range(2)
            ]
        )
    )
    at_least = PrecompiledStatements(
        lambda: (
            sa.select(probe_table.c.n)
            .where(probe_table.c.n >= sa.bindparam("least", type_=sa.Integer))
            .order_by(probe_table.c.n)
        )
    )
    first, second = uuid.uuid4(), uuid.uuid4()
    with Reliance(
        "sqlalchemy", "psycopg", where="adapters/sqlalchemy/precompiled.py"
    ) as sqlalchemy:
        async with engine.connect() as connection:
            await execute_on_driver(
                connection,
                insert_two.sql(),
                {"p0_0_id": first, "p0_0_n": 101, "p0_1_id": second, "p0_1_n": 102},
            )
            on_driver = await fetch_all_on_driver(connection, at_least.sql(), {"least": 101})
            through_sqlalchemy = await fetch_all(connection, at_least.sql(), {"least": 101})
            await connection.rollback()
        sqlalchemy.check(
            [tuple(row) for row in on_driver] == [(101,), (102,)]
            and [tuple(row) for row in through_sqlalchemy] == [(101,), (102,)],
            f"precompiled SQL now reads {on_driver!r} on psycopg and {through_sqlalchemy!r} "
            "through exec_driver_sql",
        )


async def test_json_serializer_may_return_bytes(engine: AsyncEngine) -> None:
    """JSON goes through msgspec, whose encoder returns bytes, not the str SQLAlchemy documents."""
    document = {"a": [1, "é"], "b": None}
    with Reliance(
        "sqlalchemy",
        "psycopg",
        where="adapters/sqlalchemy/engine.py (json_serializer) and outbox.py (Jsonb dumps)",
    ) as sqlalchemy:
        async with engine.connect() as connection:
            through_sqlalchemy = await connection.scalar(
                sa.select(sa.bindparam("document", document, type_=JSONB))
            )
            driver: Any = (await connection.get_raw_connection()).driver_connection
            async with driver.cursor() as cursor:
                await cursor.execute(
                    "SELECT %(document)s::jsonb",
                    {"document": Jsonb(document, dumps=msgspec.json.encode)},
                )
                on_driver = (await cursor.fetchone())[0]
            await connection.rollback()
        sqlalchemy.check(
            through_sqlalchemy == document and on_driver == document,
            f"a JSON value encoded to bytes now reads back as {through_sqlalchemy!r} through "
            f"SQLAlchemy and {on_driver!r} through psycopg's Jsonb",
        )
