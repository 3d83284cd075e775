"""Tracing of PostgreSQL, Redis and the job queue, against the real servers.

SQL statements (through SQLAlchemy and straight on psycopg) and Redis commands get CLIENT
spans inside a span in progress, and none outside one; no span holds a parameter or a
key. An outbox row keeps the traceparent of the transaction that wrote it, and a job on
Redis carries the one it was enqueued in to the span that runs it.
"""

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.opentelemetry.propagation import traceparent_of
from adapters.redis.client import create_redis_client
from adapters.sqlalchemy.outbox import SqlOutboxStore, write_messages
from adapters.sqlalchemy.precompiled import fetch_all_on_driver
from adapters.sqlalchemy.tables import outbox, users
from application.common.outbox import OutboxMessage
from application.common.ports.task_queue import TaskQueue
from application.notifications.send_templated_email import (
    SEND_TEMPLATED_EMAIL,
    SendTemplatedEmailCommand,
)
from entrypoints.bootstrap import with_signing_secret
from entrypoints.config import load_settings
from entrypoints.ioc import make_container
from entrypoints.worker.receiver import run_jobs_until_stopped
from tests.support.events import CounterIncremented
from tests.support.tracing import FinishedSpans, tracing_on

pytestmark = pytest.mark.integration

SECRET = "s3cret-parameter-value"


@pytest.fixture
def traced() -> Iterator[FinishedSpans]:
    with tracing_on() as spans:
        yield spans


def values(span: ReadableSpan) -> str:
    return " ".join(str(value) for value in (span.attributes or {}).values())


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_statements_have_spans_inside_a_span_and_none_outside(
    engine: AsyncEngine, traced: FinishedSpans
) -> None:
    async with engine.connect() as connection:
        await connection.execute(sa.select(users.c.id).where(users.c.username == SECRET))
        assert traced.all() == []
        with traced.tracer.start_as_current_span("request") as request:
            await connection.execute(sa.select(users.c.id).where(users.c.username == SECRET))
            await fetch_all_on_driver(
                connection, "SELECT id FROM users WHERE username = %(name)s", {"name": SECRET}
            )
        await connection.rollback()
    core, driver = traced.named("SELECT users")
    for span in (core, driver):
        attributes = span.attributes or {}
        assert span.kind is SpanKind.CLIENT
        assert parent_id(span) == request.get_span_context().span_id
        assert attributes["db.system.name"] == "postgresql"
        assert attributes["db.operation.name"] == "SELECT"
        assert attributes["db.namespace"]
        assert attributes["server.address"]
        assert "FROM users" in str(attributes["db.query.text"])
        assert SECRET not in values(span)
    assert [span.name for span in traced.all()] == ["SELECT users", "SELECT users", "request"]


async def test_a_failing_statement_has_a_failed_span(
    engine: AsyncEngine, traced: FinishedSpans
) -> None:
    async with engine.connect() as connection:
        with traced.tracer.start_as_current_span("request"):
            with pytest.raises(sa.exc.ProgrammingError):
                await connection.execute(sa.text("SELECT * FROM no_such_table"))
            await connection.rollback()
            with pytest.raises(Exception, match="no_such_table"):
                await fetch_all_on_driver(connection, "SELECT * FROM no_such_table", {})
    core, driver = traced.named("SELECT no_such_table")
    for span in (core, driver):
        assert span.status.status_code is StatusCode.ERROR
        assert span.events[0].name == "exception"


async def test_an_outbox_row_keeps_the_traceparent_it_was_written_in(
    clean_database: AsyncEngine, traced: FinishedSpans
) -> None:
    def event() -> OutboxMessage:
        return OutboxMessage(
            event_id=uuid.uuid4(),
            event=CounterIncremented(aggregate_id="c", occurred_at=datetime.now(UTC), amount=1),
            request_id=None,
        )

    with traced.tracer.start_as_current_span("request") as request:
        async with clean_database.begin() as connection:
            await write_messages(connection, [event()])
    async with clean_database.begin() as connection:
        await write_messages(connection, [event()])
        stored = (await connection.execute(sa.select(outbox.c.traceparent))).scalars().all()
        claimed = await SqlOutboxStore(connection).claim(limit=10, now=datetime.now(UTC))
    expected = traceparent_of(request)
    assert expected is not None
    assert expected.split("-")[2] == f"{request.get_span_context().span_id:016x}"
    assert sorted(stored, key=str) == sorted([expected, None], key=str)
    assert sorted((item.message.traceparent for item in claimed), key=str) == sorted(
        [expected, None], key=str
    )


async def test_redis_commands_have_spans_inside_a_span_and_hold_no_key_or_value(
    redis_url: str, traced: FinishedSpans
) -> None:
    key = f"tracing:{uuid.uuid4().hex}"
    client = create_redis_client(redis_url, timeout_seconds=5, client_name="tracing-test")
    try:
        await client.set(key, SECRET)
        assert traced.all() == []
        with traced.tracer.start_as_current_span("request") as request:
            assert await client.get(key) == SECRET.encode()
            pipeline = client.pipeline(transaction=False)
            pipeline.incr(f"{key}:n")
            pipeline.expire(f"{key}:n", 10)
            await pipeline.execute()
        await client.delete(key, f"{key}:n")
    finally:
        await client.aclose()
    get, batch, _ = traced.all()
    assert get.name == "GET"
    assert batch.name == "PIPELINE"
    for span in (get, batch):
        assert span.kind is SpanKind.CLIENT
        assert parent_id(span) == request.get_span_context().span_id
        assert (span.attributes or {})["db.system.name"] == "redis"
        assert key not in values(span)
        assert SECRET not in values(span)
    assert (batch.attributes or {})["db.query.text"] == "INCRBY EXPIRE"
    assert (batch.attributes or {})["db.operation.batch.size"] == 2


async def test_a_job_on_redis_runs_in_a_span_continuing_the_trace_that_enqueued_it(
    redis_url: str, migrated_url: str, tmp_path: Path, traced: FinishedSpans
) -> None:
    mail_dir = tmp_path / "mail"
    settings: Any = with_signing_secret(
        load_settings(
            {
                "DATABASE_URL": migrated_url,
                "DATA_DIR": str(tmp_path),
                "REDIS_URL": redis_url,
                "JOBS_QUEUE": "redis",
                "JOBS_STREAM": f"test:jobs:{uuid.uuid4().hex}",
                "MAIL_FILE_DIR": str(mail_dir),
            },
            env_file=None,
        )
    )
    email = SendTemplatedEmailCommand(
        to="ada@example.com",
        template="verify_email",
        context={
            "username": "ada",
            "link": "https://p.test/v?token=t",
            "token": "t",
            "valid_hours": "48",
        },
    )
    container = make_container(settings)
    stop = asyncio.Event()
    try:
        queue = await container.get(TaskQueue)
        with traced.tracer.start_as_current_span("request") as request:
            await queue.enqueue(SEND_TEMPLATED_EMAIL, email.as_payload())
        worker = asyncio.create_task(run_jobs_until_stopped(container, settings, stop))
        async with asyncio.timeout(20):
            while not traced.named(f"job {SEND_TEMPLATED_EMAIL}"):  # noqa: ASYNC110 - the worker's span
                await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(worker, timeout=15)
    finally:
        await container.close()
    (job,) = traced.named(f"job {SEND_TEMPLATED_EMAIL}")
    assert job.kind is SpanKind.CONSUMER
    assert job.context.trace_id == request.get_span_context().trace_id
    assert parent_id(job) == request.get_span_context().span_id
    assert job.status.status_code is StatusCode.UNSET
    assert list(mail_dir.glob("*.eml"))
