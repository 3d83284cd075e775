"""The engine's pool replaces connections the server closed while they sat idle."""

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url

from tests.support.postgres import engine_for_tests

pytestmark = pytest.mark.integration


async def test_a_connection_killed_while_idle_is_replaced_at_checkout(migrated_url: str) -> None:
    engine, other = engine_for_tests(migrated_url), engine_for_tests(migrated_url)
    try:
        async with engine.connect() as connection:
            victim = await connection.scalar(sa.text("SELECT pg_backend_pid()"))
        async with other.connect() as killer:
            await killer.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
            await killer.commit()
        await asyncio.sleep(0.2)
        async with engine.connect() as connection:
            survivor = await connection.scalar(sa.text("SELECT pg_backend_pid()"))
        assert survivor != victim
    finally:
        await engine.dispose()
        await other.dispose()


async def test_a_healthy_idle_connection_is_reused(migrated_url: str) -> None:
    engine = engine_for_tests(migrated_url)
    try:
        pids = set()
        for _ in range(3):
            async with engine.connect() as connection:
                pids.add(await connection.scalar(sa.text("SELECT pg_backend_pid()")))
        assert len(pids) == 1
    finally:
        await engine.dispose()


async def test_sessions_run_in_utc_and_keep_the_options_the_url_sets(migrated_url: str) -> None:
    options = make_url(migrated_url).query["options"]
    assert isinstance(options, str)
    assert options.startswith("-csearch_path=")
    engine = engine_for_tests(migrated_url)
    try:
        async with engine.connect() as connection:
            zone = await connection.scalar(sa.text("SHOW TimeZone"))
            search_path = await connection.scalar(sa.text("SHOW search_path"))
            moment = await connection.scalar(sa.text("SELECT now()"))
        assert zone == "UTC"
        assert search_path == options.removeprefix("-csearch_path=")
        assert moment.utcoffset() == timedelta(0)
    finally:
        await engine.dispose()


async def test_json_values_round_trip_through_the_engine(migrated_url: str) -> None:
    value = {"title": "Ünïcödé ✓", "tags": ["a", "b"], "count": 2**53, "nested": {"none": None}}
    engine = engine_for_tests(migrated_url)
    try:
        async with engine.connect() as connection:
            stored = await connection.scalar(
                sa.select(sa.bindparam("value", value, type_=postgresql.JSONB))
            )
            text = await connection.scalar(
                sa.select(sa.cast(sa.bindparam("value", value, type_=postgresql.JSONB), sa.Text))
            )
        assert stored == value
        assert text is not None
        assert "Ünïcödé ✓" in text
    finally:
        await engine.dispose()
