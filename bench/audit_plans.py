"""How many statements an audit read runs, and the plans PostgreSQL gives them.

`capture_statements` runs the real app in this process and records, through a SQLAlchemy
event on every engine, each statement a request executes; `check_plan` asks PostgreSQL
for the plan of one such statement on its first run and as a busy server keeps running it.
"""

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import psycopg
import sqlalchemy as sa
from litestar.testing import AsyncTestClient
from psycopg import sql
from sqlalchemy.engine import Engine

from adapters.sqlalchemy.engine import to_psycopg_url
from entrypoints.config import Settings
from entrypoints.http.app import create_app
from entrypoints.ioc import make_container

_PLACEHOLDER: Final = re.compile(r"%\((\w+)\)s")
_AUDIT_INDEXES: Final = ("ix_audit_entries", "pk_audit_entries")


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement as the driver received it: SQL with psycopg placeholders, and values."""

    text: str
    parameters: Mapping[str, Any]

    @property
    def reads_audit(self) -> bool:
        """Whether it reads the audit log (else it is the guard's, or the session's)."""
        return "audit_entries" in self.text


@dataclass(slots=True)
class StatementLog:
    """Records the statements every engine of this process executes while recording."""

    recording: list[Statement] | None = None

    def __call__(
        self,
        _connection: object,
        _cursor: object,
        statement: str,
        parameters: object,
        _context: object,
        executemany: bool,  # noqa: FBT001 - SQLAlchemy's event signature
    ) -> None:
        if self.recording is not None:
            values = parameters if isinstance(parameters, Mapping) and not executemany else {}
            self.recording.append(Statement(statement, dict(values)))

    @contextmanager
    def record(self) -> Iterator[list[Statement]]:
        """Collect the statements run inside the block."""
        self.recording = []
        try:
            yield self.recording
        finally:
            self.recording = None


@dataclass(frozen=True, slots=True)
class Captured:
    """What one request answered, and the statements it ran."""

    status: int
    statements: list[Statement]

    @property
    def audit_statements(self) -> list[Statement]:
        """The statements that read the audit log."""
        return [statement for statement in self.statements if statement.reads_audit]


async def capture_statements(settings: Settings, token: str, paths: list[str]) -> list[Captured]:
    """GET each path twice from the app run in this process; the second request's statements.

    The first request of each path is unrecorded, so that what a process does once (open a
    pooled connection, load a cache) is not counted against every request.
    """
    log = StatementLog()
    sa.event.listen(Engine, "before_cursor_execute", log)
    captured = []
    try:
        app = create_app(make_container(settings), settings)
        async with AsyncTestClient(app, base_url="http://127.0.0.1") as client:
            headers = {"Authorization": f"Token {token}"}
            for path in paths:
                await client.get(path, headers=headers)
                with log.record() as statements:
                    response = await client.get(path, headers=headers)
                captured.append(Captured(response.status_code, statements))
    finally:
        sa.event.remove(Engine, "before_cursor_execute", log)
    return captured


@dataclass(frozen=True, slots=True)
class Plan:
    """The audit_entries part of one plan."""

    indexes: tuple[str, ...]
    seq_scan: bool
    generic: bool
    milliseconds: float

    def describe(self) -> str:
        """The indexes (or the sequential scan), and whether the plan is generic."""
        used = ", ".join(self.indexes) or "no index"
        return (
            ("SEQ SCAN; " if self.seq_scan else "") + used + (" [generic]" if self.generic else "")
        )


def _nodes(node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from _nodes(child)


def _plan_of(explained: Any) -> Plan:
    document = explained[0] if isinstance(explained, list) else json.loads(explained)[0]
    nodes = list(_nodes(document["Plan"]))
    indexes = tuple(
        dict.fromkeys(
            name
            for node in nodes
            if (name := str(node.get("Index Name", ""))).startswith(_AUDIT_INDEXES)
        )
    )
    seq_scan = any(
        "Seq Scan" in str(node.get("Node Type")) and node.get("Relation Name") == "audit_entries"
        for node in nodes
    )
    generic = re.search(r"\$\d", json.dumps(document["Plan"])) is not None
    return Plan(indexes, seq_scan, generic, float(document.get("Execution Time", 0.0)))


def check_plan(url: str, statement: Statement) -> tuple[Plan, Plan]:
    """The statement's plan on its first run, and on its sixth once prepared.

    The app's driver (psycopg) prepares a statement on a connection once it has run five
    times there; from the sixth run PostgreSQL may switch to a generic plan, made without
    the values, which cannot always use a partial index. So the statement is prepared as
    psycopg prepares it (same text, same parameter types), run five times with the
    request's values, and explained on the sixth: the plan a busy server keeps using.
    """
    names = list(dict.fromkeys(_PLACEHOLDER.findall(statement.text)))
    parsed = make_psycopg_url(url)
    with psycopg.connect(parsed, autocommit=True) as connection:
        values = [statement.parameters[name] for name in names]
        text = statement.text
        first = connection.execute(
            f"EXPLAIN (ANALYZE, FORMAT JSON) {text}",
            statement.parameters,
        ).fetchone()
        for _ in range(5):
            connection.execute(text, statement.parameters, prepare=True)
        prepared = connection.execute(
            "SELECT name, parameter_types::text[] FROM pg_prepared_statements"
            " WHERE NOT from_sql ORDER BY prepare_time DESC LIMIT 1"
        ).fetchone()
        assert first is not None
        assert prepared is not None
        name, types = prepared
        arguments = sql.SQL(", ").join(
            sql.SQL("{}::{}").format(sql.Literal(value), sql.SQL(kind))
            for value, kind in zip(values, types, strict=True)
        )
        query = sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE {}({})").format(
            sql.Identifier(name), arguments
        )
        sixth = connection.execute(query).fetchone()
        assert sixth is not None
    return _plan_of(first[0]), _plan_of(sixth[0])


def make_psycopg_url(url: str) -> str:
    """A libpq URL for psycopg itself, with the schema's search_path kept."""
    return to_psycopg_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
