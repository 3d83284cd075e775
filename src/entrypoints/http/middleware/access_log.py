"""One log line per request: method, path, status, duration and request id."""

import time

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from loguru import logger

from entrypoints.http.errors import loggable_path

_log = logger.bind(logger_name="portico.access")


class AccessLogMiddleware:
    """Logs each HTTP request when its response has been sent.

    The path is logged as received, percent-encoded, so it cannot forge log lines; the query
    string is left out because it can carry tokens. The request id comes from the logging
    context that `RequestIdMiddleware` binds around this one.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request and log its outcome, even when it failed."""
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, send_and_record)
        finally:
            duration_ms = (time.perf_counter() - started) * 1000
            _log.info(
                "{method} {path} {status} {duration_ms:.1f}ms",
                method=scope.get("method", "-"),
                path=loggable_path(scope),
                status=status,
                duration_ms=duration_ms,
            )
