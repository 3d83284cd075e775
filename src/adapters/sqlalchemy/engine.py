"""Builds the async engine: psycopg 3, a sized pool, pre-ping, and safe URL handling."""

from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

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
) -> AsyncEngine:
    """Create the engine; no connection is opened until the first use.

    `pool_pre_ping` replaces connections that the server closed while they sat idle, and
    `pool_recycle` retires connections before common proxy idle timeouts cut them.
    `hide_parameters` keeps bound values (passwords, tokens, personal data) out of error
    messages and of the SQL log, which is switched on through the ``sqlalchemy.engine``
    logger rather than `echo`, so it goes through the application's log pipeline.
    """
    return create_async_engine(
        to_psycopg_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_seconds,
        pool_pre_ping=True,
        pool_recycle=1800,
        hide_parameters=True,
        connect_args={
            "connect_timeout": connect_timeout_seconds,
            "application_name": application_name,
        },
    )
