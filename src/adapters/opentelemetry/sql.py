"""Spans for SQL statements: SQLAlchemy's executions, and the ones run on psycopg directly.

A statement gets a CLIENT span only inside a span in progress (a request, a job, an event
being handled): the relay's polls and the other loops that run on their own would
otherwise start a trace of one statement each, many times a second.
Spans carry the statement's text, never its parameters (the engine is built with
`hide_parameters` for the same reason), the database, and the server.
"""

import contextlib
import functools
import re
from contextlib import AbstractContextManager
from typing import Any
from weakref import WeakKeyDictionary

from opentelemetry.trace import Span, SpanKind, StatusCode, get_current_span
from opentelemetry.util.types import AttributeValue
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExceptionContext

from adapters.opentelemetry.switch import TRACING

DB_SYSTEM = "postgresql"
_UNTRACED: AbstractContextManager[object] = contextlib.nullcontext()
_TARGET = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?([A-Za-z_][A-Za-z0-9_]*)', re.IGNORECASE)
_OPERATION = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
_SPANS: WeakKeyDictionary[Any, Span] = WeakKeyDictionary()
"""The span of each SQLAlchemy execution context between its cursor events."""


@functools.lru_cache(maxsize=1024)
def summary(sql: str) -> tuple[str, str]:
    """The statement's operation and its span name: the operation and the first table.

    ``SELECT ... FROM articles JOIN ...`` is ``SELECT articles``; a statement naming no
    table is its operation alone. A statement with common table expressions is named
    after the first operation in it: ``WITH p1 AS (INSERT INTO audit_entries ...) INSERT
    INTO outbox ...`` is ``INSERT audit_entries``.
    """
    words = sql.split(None, 1)
    operation = words[0].upper() if words else "SQL"
    if operation == "WITH" and (first := _OPERATION.search(sql)):
        operation = first[1].upper()
    target = _TARGET.search(sql)
    return operation, f"{operation} {target[1]}" if target else operation


def statement_attributes(
    sql: str, *, database: str | None, host: str | None, port: int | None
) -> dict[str, AttributeValue]:
    """The database semantic conventions' attributes of one statement."""
    attributes: dict[str, AttributeValue] = {
        "db.system.name": DB_SYSTEM,
        "db.operation.name": summary(sql)[0],
        "db.query.text": sql,
    }
    if database:
        attributes["db.namespace"] = database
    if host:
        attributes["server.address"] = host
    if port:
        attributes["server.port"] = port
    return attributes


def driver_statement(sql: str, driver_connection: Any) -> AbstractContextManager[object]:
    """A span around `sql` run on a psycopg connection itself, past SQLAlchemy's events.

    While tracing is off, or outside a span, it is a shared do-nothing context manager.
    """
    tracer = TRACING.tracer
    if tracer is None or not get_current_span().is_recording():
        return _UNTRACED
    info = driver_connection.info
    return tracer.start_as_current_span(
        summary(sql)[1],
        kind=SpanKind.CLIENT,
        attributes=statement_attributes(
            sql, database=info.dbname, host=info.host, port=int(info.port or 0) or None
        ),
    )


def trace_statements() -> None:
    """Give every SQLAlchemy engine's statements a span; installing twice is harmless."""
    for name, listener in (
        ("before_cursor_execute", _before_cursor_execute),
        ("after_cursor_execute", _after_cursor_execute),
        ("handle_error", _handle_error),
    ):
        if not event.contains(Engine, name, listener):
            event.listen(Engine, name, listener)


def _before_cursor_execute(
    connection: Connection,
    _cursor: Any,
    statement: str,
    _parameters: Any,
    context: Any,
    _executemany: bool,  # noqa: FBT001 - SQLAlchemy's signature
) -> None:
    tracer = TRACING.tracer
    if tracer is None or context is None or not get_current_span().is_recording():
        return
    url = connection.engine.url
    _SPANS[context] = tracer.start_span(
        summary(statement)[1],
        kind=SpanKind.CLIENT,
        attributes=statement_attributes(
            statement, database=url.database, host=url.host, port=url.port
        ),
    )


def _after_cursor_execute(
    _connection: Connection,
    _cursor: Any,
    _statement: str,
    _parameters: Any,
    context: Any,
    _executemany: bool,  # noqa: FBT001 - SQLAlchemy's signature
) -> None:
    span = _SPANS.pop(context, None) if context is not None else None
    if span is not None:
        span.end()


def _handle_error(exception_context: ExceptionContext) -> None:
    context = exception_context.execution_context
    span = _SPANS.pop(context, None) if context is not None else None
    if span is None:
        return
    error = exception_context.original_exception
    span.record_exception(error)
    span.set_attribute("error.type", type(error).__qualname__)
    span.set_status(StatusCode.ERROR, type(error).__name__)
    span.end()
