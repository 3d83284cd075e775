"""Refuses a request whose declared body is over the limit before anything reads it."""

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from entrypoints.http.errors import envelope_bytes


class BodyLimitMiddleware:
    """Answers 413 at once when Content-Length is over the limit, or 400 when it is garbage.

    Bodies without a Content-Length (chunked) are counted as they are read, by Litestar's
    ``request_max_body_size``, which the app sets to the same limit.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self._app = app
        self._max = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then pass the request on."""
        if scope["type"] == ScopeType.HTTP:
            declared = _content_length(scope)
            if declared == -1:
                await _reject(send, 400, "body", "has an invalid Content-Length header")
                return
            if declared is not None and declared > self._max:
                await _reject(send, 413, "body", f"is too large; the limit is {self._max} bytes")
                return
        await self._app(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() and len(value) < 19 else -1
    return None


async def _reject(send: Send, status: int, key: str, message: str) -> None:
    body = envelope_bytes(key, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        },
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
