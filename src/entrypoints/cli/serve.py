"""What `portico serve` runs: the HTTP API on granian (faster in bench/asgi_servers.py) or uvicorn.

granian holds about 155 KB per open WebSocket (its WebSocket layer's buffers), uvicorn about
20 KB (bench/ws_fanout.py); processes that mostly hold live connections may prefer uvicorn
(APP_SERVER=uvicorn), processes that mostly answer requests granian.

Both are given the same connection limits (docs/operations.md, "Connection limits"): at most
APP_MAX_CONNECTIONS open connections per worker, a request's head within
APP_HEADER_READ_TIMEOUT_SECONDS, an idle keep-alive connection closed after
APP_KEEPALIVE_TIMEOUT_SECONDS. What one process cannot enforce (connections per client) is
the proxy's job: deploy/nginx/portico.conf.
"""

import asyncio
import contextlib
import os
import resource
import socket
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from granian.constants import Interfaces
from granian.http import HTTP1Settings
from granian.server import Server
from loguru import logger

from entrypoints.cli.common import (
    database_or_exit,
    database_reachable_or_exit,
    database_schema_current_or_exit,
    fail,
    settings_or_exit,
    stop_on_signals,
    with_signing_secret_logged,
)
from entrypoints.cli.exit_codes import ExitCode
from entrypoints.config import Settings
from entrypoints.multiprocess_metrics import multiprocess_directory

ASGI_FACTORY = "entrypoints.http.asgi:build_app"
UVICORN_EXTRA_MODULES = ("uvicorn", "websockets")
"""What APP_SERVER=uvicorn imports: the server, and the WebSocket protocol it is run with."""
RESERVED_FILE_DESCRIPTORS = 1024
"""Descriptors a worker keeps for what is not a client connection: pools, files, pipes."""
LISTEN_BACKLOG = 2048
"""Connections the kernel queues before the server accepts them (capped by somaxconn)."""
HEADER_TIMEOUT_ENV = "APP_HEADER_READ_TIMEOUT_SECONDS"

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


def serve_until_stopped(*, host: str | None, port: int | None, workers: int | None) -> None:
    """`portico serve` (entrypoints/cli/serve_command.py) once its arguments are parsed."""
    stop_on_signals()
    settings = settings_or_exit()
    if settings.app.server == "uvicorn" and not all(map(find_spec, UVICORN_EXTRA_MODULES)):
        fail(
            "APP_SERVER=uvicorn needs the uvicorn extra; install 'portico[uvicorn]', "
            "or unset APP_SERVER to serve with granian",
            ExitCode.CONFIGURATION,
        )
    address = host or settings.app.host
    bind_port = port or settings.app.port
    if not _port_is_free(address, bind_port):
        fail(
            f"{address}:{bind_port} is already in use; stop what listens there, "
            "or serve on another port (--port or APP_PORT)",
            ExitCode.DEPENDENCY_UNAVAILABLE,
        )
    metrics = settings.metrics
    metrics_host = metrics.host or settings.app.host
    if metrics.mode == "port" and not _port_is_free(metrics_host, metrics.port):
        fail(
            f"{metrics_host}:{metrics.port} is already in use; stop what listens there, "
            "or serve the metrics on another port (METRICS_PORT)",
            ExitCode.DEPENDENCY_UNAVAILABLE,
        )
    with database_or_exit(settings, export=True) as resolved, _counting_together(settings):
        database_reachable_or_exit(resolved)
        database_schema_current_or_exit(resolved)
        _run(with_signing_secret_logged(resolved), address=address, port=bind_port, workers=workers)
    logger.info("stopped")


@contextlib.contextmanager
def _counting_together(settings: Settings) -> Iterator[None]:
    """With metrics on, the worker processes count into one directory, fresh for this run.

    Set before any worker starts (and before this process imports prometheus-client), so
    each of them writes its counts where a scrape of any one of them reads all of them.
    """
    if not settings.metrics.enabled:
        yield
        return
    configured = settings.metrics.multiprocess_dir
    with multiprocess_directory(Path(configured) if configured else None):
        yield


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


def connection_capacity(wanted: int) -> int:
    """Raise the open-files soft limit as far as `wanted` connections need; return what fits.

    Workers inherit the limit, and each is its own process, so the figure is per worker. If
    the hard limit is lower than `wanted` plus the reserve, the capacity shrinks to fit, with
    a warning, rather than failing accept() with EMFILE under load.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + RESERVED_FILE_DESCRIPTORS
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            logger.warning("could not raise the open-files limit from {}: {}", soft, exc)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return wanted
    fitting = max(64, soft - RESERVED_FILE_DESCRIPTORS)
    logger.warning(
        "APP_MAX_CONNECTIONS={} needs {} open files but the limit is {}: holding {} per worker",
        wanted,
        needed,
        soft,
        fitting,
    )
    return fitting


def _run(settings: Settings, *, address: str, port: int, workers: int | None) -> None:
    capacity = connection_capacity(settings.app.max_connections)
    logger.info(
        "serving on http://{}:{} ({} env, {}; {} connections per worker)",
        address,
        port,
        settings.app.env,
        settings.app.server,
        capacity,
    )
    if settings.app.server == "uvicorn":
        _run_uvicorn(settings, address=address, port=port, workers=workers, capacity=capacity)
        return
    # hyper has one timer for a request's head: it runs from the first byte of a request, and
    # on a keep-alive connection from the end of the previous response, so it is also the idle
    # timeout; the shorter of the two settings keeps both promises.
    head_timeout = min(
        settings.app.header_read_timeout_seconds, settings.app.keepalive_timeout_seconds
    )
    server = Server(
        ASGI_FACTORY,
        address=address,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers or settings.app.workers,
        factory=True,
        websockets=True,
        backlog=LISTEN_BACKLOG,
        backpressure=capacity,
        http1_settings=HTTP1Settings(header_read_timeout=int(head_timeout * 1000)),
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


def _run_uvicorn(
    settings: Settings, *, address: str, port: int, workers: int | None, capacity: int
) -> None:
    """Uvicorn with the same factory; its own ping frames keep idle sockets alive.

    Past `capacity` connections uvicorn answers 503 at once instead of leaving new ones in the
    backlog. It has no timeout for a request's head: HeaderTimeoutHttpToolsProtocol adds one,
    and reads it from the environment, because spawned workers rebuild it by name.
    """
    import uvicorn

    os.environ[HEADER_TIMEOUT_ENV] = str(settings.app.header_read_timeout_seconds)
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
        http=f"{__name__}:HeaderTimeoutHttpToolsProtocol",
        backlog=LISTEN_BACKLOG,
        limit_concurrency=capacity,
        timeout_keep_alive=max(1, round(settings.app.keepalive_timeout_seconds)),
        log_config=_UVICORN_LOGGING,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=max(1, int(settings.app.shutdown_timeout_seconds)),
    )


_built: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    """HeaderTimeoutHttpToolsProtocol, built on first use: uvicorn is an optional extra."""
    if name != "HeaderTimeoutHttpToolsProtocol":
        raise AttributeError(name)
    if name not in _built:
        _built[name] = _header_timeout_protocol()
    return _built[name]


def _header_timeout_protocol() -> type:
    """The httptools protocol of uvicorn, closing a connection whose request head is late.

    The timer starts when the connection is made (so a client that sends nothing is cut off
    too) and again at the first byte of each later request; the end of the headers stops it.
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    timeout = float(os.environ.get(HEADER_TIMEOUT_ENV, "5"))

    class HeaderTimeoutHttpToolsProtocol(HttpToolsProtocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_head_timer()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm_head_timer()

        def on_headers_complete(self) -> None:
            self._disarm_head_timer()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_head_timer()
            super().connection_lost(exc)

        def _arm_head_timer(self) -> None:
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(timeout, self._head_too_late)

        def _disarm_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_too_late(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutHttpToolsProtocol
