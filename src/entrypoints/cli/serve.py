"""`portico serve`: the HTTP API on granian (the faster server in bench/asgi_servers.py) or uvicorn.

granian holds about 155 KB per open WebSocket (its WebSocket layer's buffers), uvicorn about
20 KB (bench/ws_fanout.py); processes that mostly hold live connections may prefer uvicorn
(APP_SERVER=uvicorn), processes that mostly answer requests granian.
"""

import socket
from importlib.util import find_spec
from typing import Annotated

import typer
from granian.constants import Interfaces
from granian.server import Server
from loguru import logger

from entrypoints.bootstrap import (
    DatabaseUnreachableError,
    ensure_database_reachable,
)
from entrypoints.cli.common import (
    database_or_exit,
    fail,
    settings_or_exit,
    stop_on_signals,
    with_signing_secret_logged,
)
from entrypoints.cli.exit_codes import ExitCode
from entrypoints.config import Settings

ASGI_FACTORY = "entrypoints.http.asgi:build_app"
UVICORN_EXTRA_MODULES = ("uvicorn", "websockets")
"""What APP_SERVER=uvicorn imports: the server, and the WebSocket protocol it is run with."""

# granian's private _granian logger, Server options: tests/unit/test_reliances_http_stack.py
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
    if settings.app.server == "uvicorn" and not all(map(find_spec, UVICORN_EXTRA_MODULES)):
        fail(
            "APP_SERVER=uvicorn needs the uvicorn extra: install 'portico[uvicorn]', "
            "or unset APP_SERVER to serve with granian",
            ExitCode.CONFIGURATION,
        )
    address = host or settings.app.host
    bind_port = port or settings.app.port
    if not _port_is_free(address, bind_port):
        fail(f"{address}:{bind_port} is already in use", ExitCode.DEPENDENCY_UNAVAILABLE)
    with database_or_exit(settings, export=True) as resolved:
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
    logger.info(
        "serving on http://{}:{} ({} env, {})", address, port, settings.app.env, settings.app.server
    )
    if settings.app.server == "uvicorn":
        _run_uvicorn(settings, address=address, port=port, workers=workers)
        return
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


_UVICORN_LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"loguru": {"class": "entrypoints.logs.InterceptHandler"}},
    "loggers": {
        "uvicorn": {"handlers": ["loguru"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"handlers": ["loguru"], "level": "WARNING", "propagate": False},
        "uvicorn.access": {"handlers": ["loguru"], "level": "WARNING", "propagate": False},
    },
}


def _run_uvicorn(settings: Settings, *, address: str, port: int, workers: int | None) -> None:
    """Uvicorn with the same factory; its own ping frames keep idle sockets alive."""
    import uvicorn  # noqa: PLC0415 - only loaded when chosen

    uvicorn.run(
        ASGI_FACTORY,
        factory=True,
        host=address,
        port=port,
        workers=workers or settings.app.workers,
        lifespan="on",
        ws="websockets-sansio",
        ws_max_size=settings.websocket.max_message_bytes,
        ws_ping_interval=settings.websocket.heartbeat_seconds,
        log_config=_UVICORN_LOGGING,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=max(1, int(settings.app.shutdown_timeout_seconds)),
    )
