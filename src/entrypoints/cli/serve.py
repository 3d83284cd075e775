"""`portico serve`: the HTTP API on granian, the faster server in bench/asgi_servers.py."""

import socket
from typing import Annotated

import typer
from granian.constants import Interfaces
from granian.server import Server
from loguru import logger

from entrypoints.bootstrap import (
    DatabaseUnreachableError,
    ensure_database_reachable,
    resolved_database,
)
from entrypoints.cli.common import (
    fail,
    settings_or_exit,
    stop_on_signals,
    with_signing_secret_logged,
)
from entrypoints.cli.exit_codes import ExitCode
from entrypoints.config import Settings

ASGI_FACTORY = "entrypoints.http.asgi:build_app"

_LOGGING_INTO_LOGURU = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"loguru": {"class": "entrypoints.logs.InterceptHandler"}},
    "loggers": {
        "_granian": {"handlers": ["loguru"], "level": "INFO", "propagate": False},
        "granian.access": {"handlers": ["loguru"], "level": "WARNING", "propagate": False},
    },
}


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind. [default: APP_HOST]")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port to listen on. [default: APP_PORT]")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="Worker processes. [default: APP_WORKERS]")
    ] = None,
) -> None:
    """Serve the HTTP API until SIGINT or SIGTERM, then drain and exit 0.

    Without DATABASE_URL (outside production) an embedded PostgreSQL is started first and
    stopped on exit. The database must answer before the server starts (exit 3 if not).
    """
    stop_on_signals()
    settings = settings_or_exit()
    address = host or settings.app.host
    bind_port = port or settings.app.port
    if not _port_is_free(address, bind_port):
        fail(f"{address}:{bind_port} is already in use", ExitCode.DEPENDENCY_UNAVAILABLE)
    with resolved_database(settings, export=True) as resolved:
        try:
            ensure_database_reachable(resolved)
        except DatabaseUnreachableError as exc:
            fail(str(exc), ExitCode.DEPENDENCY_UNAVAILABLE)
        _run(with_signing_secret_logged(resolved), address=address, port=bind_port, workers=workers)
    logger.info("stopped")


def _port_is_free(address: str, port: int) -> bool:
    """Whether nothing listens there; granian binds with SO_REUSEPORT, so it would not tell.

    SO_REUSEADDR lets the probe ignore the TIME_WAIT sockets a previous run left behind
    (Linux still refuses a port something listens on), so a restart need not wait a minute.
    """
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def _run(settings: Settings, *, address: str, port: int, workers: int | None) -> None:
    logger.info("serving on http://{}:{} ({} env)", address, port, settings.app.env)
    server = Server(
        ASGI_FACTORY,
        address=address,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers or settings.app.workers,
        factory=True,
        websockets=True,
        log_enabled=True,
        log_access=False,
        log_dictconfig=_LOGGING_INTO_LOGURU,
        workers_kill_timeout=max(1, int(settings.app.shutdown_timeout_seconds)),
    )
    server.serve()
