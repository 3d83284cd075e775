"""A connection that dies under a statement, on a real server, as the application's errors.

The backend is terminated from another session (`pg_terminate_backend`) while a statement
runs on it, which is what a server restart does to every session at once.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sqlalchemy.connection_loss import note_commit_sent
from adapters.sqlalchemy.precompiled import fetch_all_on_driver
from adapters.sqlalchemy.request_connection import RequestConnection
from application.common.errors import (
    ConnectionLostError,
    DependencyUnavailableError,
    OutcomeUnknownError,
)
from tests.support.postgres import engine_for_tests

_SLEEP = "SELECT pg_sleep(5)"


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = engine_for_tests(postgres_url, autocommit=True)
    yield engine
    await engine.dispose()


async def _terminated_while_sleeping(
    connection: AsyncConnection, run: Awaitable[object]
) -> BaseException:
    """Run `run` (a coroutine sleeping on `connection`), terminate its backend, return the error."""
    pid = (await connection.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
    task = asyncio.ensure_future(run)
    await asyncio.sleep(0.3)
    url = connection.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as killer:
        await killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the test inspects it below
        await asyncio.wait_for(task, timeout=10)
    return raised.value


async def test_a_statement_whose_connection_dies_is_a_repeatable_loss(
    engine: AsyncEngine,
) -> None:
    connection = RequestConnection(engine, retry_after_seconds=3)
    try:
        error = await _terminated_while_sleeping(connection, connection.execute(sa.text(_SLEEP)))
        assert isinstance(error, ConnectionLostError), repr(error)
        assert error.retry_after_seconds == 2  # the engine's (engine_for_tests: the default)
        assert error.field == "database"
        # Every connection opened before the dead one is recycled at its next checkout.
        assert engine.sync_engine.pool._invalidate_time > 0
    finally:
        await connection.close()
    async with engine.connect() as fresh:
        assert (await fresh.execute(sa.text("SELECT 1"))).scalar_one() == 1


async def test_a_statement_on_the_driver_whose_connection_dies_is_translated_too(
    engine: AsyncEngine,
) -> None:
    connection = RequestConnection(engine, retry_after_seconds=2)
    try:
        error = await _terminated_while_sleeping(
            connection, fetch_all_on_driver(connection, _SLEEP, {})
        )
        assert isinstance(error, ConnectionLostError), repr(error)
        assert connection.invalidated
    finally:
        await connection.close()


async def test_a_dead_connection_used_again_while_the_server_is_away_is_unavailable(
    engine: AsyncEngine,
) -> None:
    """A job that retries on the connection that died reopens it; the server refusing is
    an outage, then the same connection works again once the server is back."""
    refusing = asyncio.Event()

    def refuse_while_away(*_: object) -> None:
        if refusing.is_set():
            raise psycopg.OperationalError("connection refused")

    event.listen(engine.sync_engine, "do_connect", refuse_while_away)
    connection = RequestConnection(engine, retry_after_seconds=2)
    try:
        error = await _terminated_while_sleeping(connection, connection.execute(sa.text(_SLEEP)))
        assert isinstance(error, ConnectionLostError), repr(error)
        await connection.rollback()  # as the unit of work does on the way out
        refusing.set()
        with pytest.raises(DependencyUnavailableError) as raised:
            await connection.execute(sa.text("SELECT 1"))
        assert type(raised.value) is DependencyUnavailableError
        refusing.clear()
        assert (await connection.scalar(sa.text("SELECT 1"))) == 1
    finally:
        await connection.close()
        event.remove(engine.sync_engine, "do_connect", refuse_while_away)


async def test_a_loss_once_a_commit_was_sent_has_an_unknown_outcome(engine: AsyncEngine) -> None:
    connection = RequestConnection(engine, retry_after_seconds=2)
    try:
        await connection.execute(sa.text("SELECT 1"))
        note_commit_sent(connection)
        error = await _terminated_while_sleeping(connection, connection.execute(sa.text(_SLEEP)))
        assert isinstance(error, OutcomeUnknownError), repr(error)
    finally:
        await connection.close()


async def test_a_request_connection_takes_no_connection_until_its_first_statement(
    engine: AsyncEngine,
) -> None:
    connection = RequestConnection(engine, retry_after_seconds=2)
    started_at_first = connection.started
    assert not connection.in_transaction()
    await connection.commit()
    await connection.rollback()
    checked_out_before = _checked_out(engine)
    assert (await connection.scalar(sa.text("SELECT 1"))) == 1
    started_after = connection.started
    await connection.close()
    assert (started_at_first, checked_out_before, started_after) == (False, 0, True)
    assert _checked_out(engine) == 0


def _checked_out(engine: AsyncEngine) -> int:
    checked_out: int = engine.sync_engine.pool.checkedout()  # type: ignore[attr-defined]
    return checked_out
