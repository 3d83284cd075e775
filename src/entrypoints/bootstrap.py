"""What every entrypoint does before it serves: settings, logging, and a reachable database."""

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec
from loguru import logger
from sqlalchemy.engine import make_url

from adapters.pgserver.embedded import EmbeddedPostgres
from adapters.sqlalchemy.engine import create_engine, redact_url
from adapters.sqlalchemy.health import SqlDatabaseProbe
from entrypoints.config.settings import Settings
from entrypoints.logs import configure_logging


class DatabaseUnreachableError(RuntimeError):
    """The configured database did not answer; the message names it, password hidden."""


def setup_logging(settings: Settings) -> None:
    """Configure logging from the settings, scrubbing every configured secret."""
    configure_logging(
        level=settings.app.log_level,
        json_format=settings.app.log_format == "json",
        secrets=known_secrets(settings),
    )


def known_secrets(settings: Settings) -> list[str]:
    """Every secret value in the settings, for the log scrubber."""
    secrets: list[str] = []
    if settings.auth.jwt_secret:
        secrets.append(settings.auth.jwt_secret)
    for url in (settings.database.url, settings.cache.redis_url):
        if url:
            try:
                password = make_url(url).password
            except Exception:  # noqa: BLE001, S112 - not a URL we can parse: no password to hide
                continue
            if password:
                secrets.append(str(password))
    return secrets


@contextmanager
def resolved_database(settings: Settings, *, export: bool = False) -> Iterator[Settings]:
    """Yield settings whose DATABASE_URL points at a server, starting the embedded one if unset.

    With `export`, the URL is also put in the environment, so that server worker processes
    started from here use the same database. The embedded server is let go on exit.
    """
    if settings.database.url is not None:
        yield settings
        return
    embedded = EmbeddedPostgres(Path(settings.app.data_dir) / "postgres")
    url = embedded.start()
    logger.info("embedded PostgreSQL running with data in {}", embedded.data_dir)
    try:
        if export:
            os.environ["DATABASE_URL"] = url
        database = msgspec.structs.replace(settings.database, url=url)
        yield msgspec.structs.replace(settings, database=database)
    finally:
        embedded.stop()
        logger.info("embedded PostgreSQL released")


def ensure_database_reachable(settings: Settings) -> None:
    """Fail fast, with one line naming the database, when it does not answer."""
    url = settings.database.url
    if url is None:
        raise DatabaseUnreachableError("DATABASE_URL is not set")

    async def probe() -> None:
        engine = create_engine(
            url,
            pool_size=1,
            max_overflow=0,
            pool_timeout_seconds=settings.database.connect_timeout_seconds,
            connect_timeout_seconds=settings.database.connect_timeout_seconds,
            application_name=f"{settings.app.name}-preflight",
        )
        try:
            await SqlDatabaseProbe(engine).check()
        finally:
            await engine.dispose()

    try:
        asyncio.run(probe())
    except Exception as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        detail = reason[0] if reason else type(exc).__name__
        raise DatabaseUnreachableError(
            f"database {redact_url(url)} is unreachable: {detail}",
        ) from exc
