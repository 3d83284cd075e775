"""Builds the async engine: psycopg 3, a sized pool that drops dead connections, safe URLs."""

import select
from typing import Any

import msgspec
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import PoolProxiedConnection

from adapters.sqlalchemy.connection_loss import watch_for_outages

_ACCEPTED_SCHEMES = frozenset({"postgresql", "postgres", "postgresql+psycopg"})


def to_psycopg_url(url: str) -> URL:
    """Turn ``postgresql://`` (or ``postgres://``) into SQLAlchemy's psycopg 3 URL.

    Raises ValueError for any other scheme, so a MySQL or SQLite URL fails early and clearly.
    """
    parsed = make_url(url)
    if parsed.drivername not in _ACCEPTED_SCHEMES:
        raise ValueError(f"unsupported scheme {parsed.drivername!r}; use postgresql://")
    return parsed.set(drivername="postgresql+psycopg")


def redact_url(url: str) -> str:
    """Render a database URL for logs and errors, with the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL must still never leak
        return "<unparsable database URL>"


def create_engine(
    url: str,
    *,
    pool_size: int,
    max_overflow: int,
    pool_timeout_seconds: float,
    connect_timeout_seconds: int,
    application_name: str,
    autocommit: bool = False,
    retry_after_seconds: int = 2,
) -> AsyncEngine:
    """Create the engine; no connection is opened until the first use.

    A connection that the server closed while it sat idle (a restart, an idle timeout) is
    replaced at checkout, found by `_closed_while_idle` without a round trip; a ping per
    checkout cost a sixth of the throughput of a typical read. `pool_recycle` retires
    connections before common proxy idle timeouts cut them.

    With `autocommit`, connections run each statement on its own (no BEGIN, no ROLLBACK
    when returned to the pool): right for one-statement reads, and the unit of work
    switches a connection to real transactions for its writes.
    JSON columns are encoded and decoded by msgspec, several times faster than the
    standard library for the outbox payload each write carries.
    Sessions run in UTC (appended to any `options` the URL sets): timestamps come back
    already in the zone the API answers in, which spares a conversion per value.
    `hide_parameters` keeps bound values (passwords, tokens, personal data) out of error
    messages and of the SQL log, which is switched on through the ``sqlalchemy.engine``
    logger rather than `echo`, so it goes through the application's log pipeline.
    """
    psycopg_url = to_psycopg_url(url)
    options = " ".join(filter(None, [_query_value(psycopg_url, "options"), "-c TimeZone=UTC"]))
    engine = create_async_engine(
        psycopg_url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_seconds,
        pool_recycle=1800,
        isolation_level="AUTOCOMMIT" if autocommit else None,
        hide_parameters=True,
        # Returns bytes, not str: tests/integration/test_reliances_storage.py
        json_serializer=msgspec.json.encode,
        json_deserializer=msgspec.json.decode,
        connect_args={
            "connect_timeout": connect_timeout_seconds,
            "application_name": application_name,
            "options": options,
        },
    )
    event.listen(engine.sync_engine, "checkout", _refuse_connections_closed_while_idle)
    watch_for_outages(engine, retry_after_seconds=retry_after_seconds)
    return engine


def _query_value(url: URL, name: str) -> str | None:
    value = url.query.get(name)
    return value[-1] if isinstance(value, tuple) else value


def _closed_while_idle(driver_connection: Any) -> bool:
    """Whether an idle connection was closed by the server, judged without a round trip.

    An idle connection has nothing to read. When the server ends it, it sends an error
    message and closes the socket, so the socket turns readable: a zero-timeout poll sees
    that at once. `poll` has no limit on descriptor numbers (`select` fails above 1023).
    A check that cannot run says "alive": the first query then finds out for sure.
    """
    if driver_connection.closed or driver_connection.broken:
        return True
    try:
        poller = select.poll()
        poller.register(driver_connection.fileno(), select.POLLIN | select.POLLHUP)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return False


def _refuse_connections_closed_while_idle(
    _dbapi_connection: Any, _record: Any, proxy: PoolProxiedConnection
) -> None:
    """Checkout hook: a dead connection is discarded and the pool hands out another."""
    if _closed_while_idle(proxy.driver_connection):
        raise DisconnectionError("the server closed this connection while it was idle")
