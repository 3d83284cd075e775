"""Refuses a request body that is too large or not JSON before anything reads it."""

from collections.abc import Iterable

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from entrypoints.http.errors import envelope_bytes

JSON_MEDIA_TYPES = frozenset({"application/json"})


class BodyGuardMiddleware:
    """Checks the headers of every request that carries a body.

    - A Content-Length over the limit gets 413 at once; one that is not a number gets 400.
      Bodies without one (chunked) are counted as they are read, by Litestar's
      ``request_max_body_size``, which the app sets to the same limit.
    - A body whose Content-Type is not JSON (``application/json`` or ``+json``) gets 415:
      the API speaks JSON only, and guessing would accept form posts meant for elsewhere.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        media_types: Iterable[str] = JSON_MEDIA_TYPES,
    ) -> None:
        self._app = app
        self._max = max_body_bytes
        self._media_types = frozenset(media_types)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared body, then pass the request on."""
        if scope["type"] == ScopeType.HTTP:
            headers = dict(scope.get("headers", ()))
            raw_length = headers.get(b"content-length")
            declared = _parse_length(raw_length)
            if declared == -1:
                await _reject(send, 400, "body", "has an invalid Content-Length header")
                return
            if declared is not None and declared > self._max:
                await _reject(send, 413, "body", f"is too large; the limit is {self._max} bytes")
                return
            has_body = bool(declared) or b"transfer-encoding" in headers
            if has_body and not self._accepts(headers.get(b"content-type", b"")):
                await _reject(send, 415, "content_type", "must be application/json")
                return
        await self._app(scope, receive, send)

    def _accepts(self, content_type: bytes) -> bool:
        media_type = content_type.split(b";", 1)[0].strip().lower().decode("latin-1")
        return media_type in self._media_types or media_type.endswith("+json")


def _parse_length(value: bytes | None) -> int | None:
    if value is None:
        return None
    return int(value) if value.isdigit() and len(value) < 19 else -1


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
