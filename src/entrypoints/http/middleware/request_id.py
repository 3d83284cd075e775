"""Gives every request an id: the caller's, when well-formed, or a new one."""

import re
import uuid

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from loguru import logger

from application.common.correlation import current_request_id

REQUEST_ID_HEADER = "x-request-id"
REQUEST_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}(?![\s\S])"
"""A request id kept from the caller, and one an audit query may name: 1 to 128 safe
characters. Ids made here (32 hex digits) match it too."""
_HEADER_BYTES = REQUEST_ID_HEADER.encode()
_WELL_FORMED = re.compile(REQUEST_ID_PATTERN.encode())


def incoming_request_id(scope: Scope) -> str | None:
    """Return the caller's X-Request-ID when it is 1 to 128 safe characters, else None."""
    for name, value in scope.get("headers", ()):
        if name == _HEADER_BYTES:
            return value.decode("ascii") if _WELL_FORMED.match(value) else None
    return None


class RequestIdMiddleware:
    """Binds the request id into the logs and the correlation context, and echoes it.

    A malformed incoming id (too long, or with characters that could forge log lines) is
    replaced rather than rejected, so tracing never costs a request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request inside its id's context."""
        if scope["type"] not in ("http", "websocket"):
            await self._app(scope, receive, send)
            return
        request_id = incoming_request_id(scope) or uuid.uuid4().hex
        # Litestar sets scope["state"] first: tests/unit/test_reliances_http_stack.py
        scope["state"]["request_id"] = request_id
        header = (_HEADER_BYTES, request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        token = current_request_id.set(request_id)
        try:
            with logger.contextualize(request_id=request_id):
                await self._app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)
