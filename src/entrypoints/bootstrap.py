"""What every entrypoint does before it serves: settings, logging, and a reachable database."""

import asyncio
import os
import secrets
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec
from loguru import logger
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.embedded_postgres.server import EmbeddedPostgres
from adapters.sqlalchemy.engine import redact_url
from adapters.sqlalchemy.health import SqlDatabaseProbe
from adapters.system import outage_log
from entrypoints.config.settings import Settings
from entrypoints.ioc import make_container
from entrypoints.logs import configure_logging


class DatabaseUnreachableError(RuntimeError):
    """The configured database did not answer; the message names it, password hidden."""


def setup_logging(settings: Settings) -> None:
    """Configure logging from the settings, scrubbing every configured secret."""
    configure_logging(
        level=settings.app.log_level,
        json_format=settings.app.log_format == "json",
        secrets=known_secrets(settings),
        sql_echo=settings.database.echo,
    )


def known_secrets(settings: Settings) -> list[str]:
    """Every secret value in the settings, for the log scrubber."""
    secrets: list[str] = []
    if settings.auth.jwt_secret:
        secrets.append(settings.auth.jwt_secret)
    if settings.audit.signing_key:
        secrets.append(settings.audit.signing_key)
    if settings.metrics.token:
        secrets.append(settings.metrics.token)
    for url in (settings.database.url, settings.cache.redis_url):
        if url:
            try:
                password = make_url(url).password
            except Exception:  # noqa: BLE001, S112 - not a URL we can parse: no password to hide
                continue
            if password:
                secrets.append(str(password))
    return secrets


def with_signing_secret(settings: Settings) -> Settings:
    """Settings with a JWT secret: the configured one, or a development one.

    Outside production an unset secret becomes a random one kept in DATA_DIR/jwt-secret
    (mode 600), so every worker process and every restart signs with the same key.
    """
    if settings.auth.jwt_secret is not None or settings.is_production:
        return settings
    auth = msgspec.structs.replace(
        settings.auth, jwt_secret=_development_key(settings, "jwt-secret", "JWT_SECRET")
    )
    return msgspec.structs.replace(settings, auth=auth)


def _development_key(settings: Settings, name: str, variable: str) -> str:
    path = Path(settings.app.data_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    secret = secrets.token_urlsafe(48)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret)
    logger.warning("{} is not set; generated a development key in {}", variable, path)
    return secret


@contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while a step must not be cut in half, then deliver them.

    Starting the embedded server is such a step: interrupted midway, the package has started
    PostgreSQL but not yet recorded that this process owns it, so nothing would stop it.
    Only the main thread can install handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    watched = (signal.SIGINT, signal.SIGTERM)
    previous = {
        signum: signal.signal(signum, lambda n, _: received.append(n)) for signum in watched
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for number in dict.fromkeys(received):
            signal.raise_signal(number)


@contextmanager
def resolved_database(
    settings: Settings, *, export: bool = False, lifecycle_level: str = "DEBUG"
) -> Iterator[Settings]:
    """Yield settings whose DATABASE_URL points at a server, starting the embedded one if unset.

    With `export`, the URL is also put in the environment, so that server worker processes
    started from here use the same database. The embedded server is let go on exit. Its
    start and release are logged at `lifecycle_level` (`portico -v` asks for INFO).
    """
    if settings.database.url is not None:
        yield settings
        return
    embedded = EmbeddedPostgres(Path(settings.app.data_dir) / "postgres")
    with deferred_signals():
        url = embedded.start()
    logger.log(lifecycle_level, "embedded PostgreSQL running with data in {}", embedded.data_dir)
    try:
        if export:
            os.environ["DATABASE_URL"] = url
        database = msgspec.structs.replace(settings.database, url=url)
        yield msgspec.structs.replace(settings, database=database)
    finally:
        embedded.stop()
        logger.log(lifecycle_level, "embedded PostgreSQL released")


def ensure_database_reachable(settings: Settings) -> None:
    """Fail fast, with one line naming the database, when it does not answer.

    The check goes through the same container the app uses, so it exercises the engine the
    app will run with.
    """
    url = settings.database.url
    if url is None:
        raise DatabaseUnreachableError("DATABASE_URL is not set")

    container = make_container(settings)

    async def probe() -> None:
        try:
            await SqlDatabaseProbe(await container.get(AsyncEngine)).check()
        finally:
            await container.close()

    # The outage log speaks for a running server ("requests answer 503"); here the one line
    # below says it all.
    logger.disable(outage_log.__name__)
    try:
        asyncio.run(probe())
    except Exception as exc:
        driver = exc.__cause__ or exc  # the driver's own error, under an application one
        reason = str(getattr(driver, "orig", None) or driver).strip().splitlines()
        detail = reason[0] if reason else type(exc).__name__
        raise DatabaseUnreachableError(
            f"database {redact_url(url)} is unreachable: {detail}",
        ) from exc
    finally:
        logger.enable(outage_log.__name__)
