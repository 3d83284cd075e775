"""Cross-origin requests from browsers (CORS), for the origins the operator lists and no others.

Litestar's own CORS middleware is not used: it sends Access-Control-Allow-Credentials,
-Expose-Headers, -Allow-Headers and -Allow-Methods to every origin, allowed or not, sends
`Vary: Origin` only to allowed ones (so a shared cache can hand one origin's answer to
another), echoes any origin that sends a cookie when `*` is allowed, and runs inside the
app, where the body guard's refusals and the concurrency queue come before it.
"""

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from entrypoints.config.cors import ANY_ORIGIN, CorsPolicy
from entrypoints.http.errors import envelope_bytes

_ORIGIN = b"origin"
_REQUEST_METHOD = b"access-control-request-method"
_VARY_ORIGIN = (b"vary", b"Origin")
_ANY_ORIGIN_VALUE = ANY_ORIGIN.encode()


class CorsMiddleware:
    """Answers preflights and marks the responses of allowed origins; others get nothing.

    - A preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered here,
      before the body guard, the concurrency queue and the authentication guard: 204 with
      the policy for an allowed origin; for any other, 403 in the error envelope with no
      CORS header. The browser compares the method and headers it wants with the lists.
    - Any other request goes on; when its Origin is allowed, its response, errors
      included, carries Access-Control-Allow-Origin (that origin, or `*`) and the
      credentials and exposed headers the policy names, so the frontend can read errors.
    - Every response says `Vary: Origin`, because what it carries depends on Origin.
    """

    def __init__(self, app: ASGIApp, *, policy: CorsPolicy) -> None:
        self._app = app
        self._any_origin = policy.allows_any_origin
        self._origins = frozenset(origin.encode() for origin in policy.allowed_origins)
        credentials = (
            [(b"access-control-allow-credentials", b"true")] if policy.allow_credentials else []
        )
        exposed = (
            [(b"access-control-expose-headers", ", ".join(policy.exposed_headers).encode())]
            if policy.exposed_headers
            else []
        )
        self._response_headers = (*credentials, *exposed, _VARY_ORIGIN)
        self._preflight_headers = (
            (b"access-control-allow-methods", ", ".join(policy.allowed_methods).encode()),
            (b"access-control-allow-headers", ", ".join(policy.allowed_headers).encode()),
            (b"access-control-max-age", str(policy.max_age_seconds).encode()),
            *credentials,
            _VARY_ORIGIN,
        )
        self._refusal = envelope_bytes("origin", "is not allowed")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a preflight, or pass the request on and mark its response."""
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        origin: bytes | None = None
        origins_sent = 0
        is_preflight = False
        for name, value in scope["headers"]:
            if name == _ORIGIN:
                origin = value
                origins_sent += 1
            elif name == _REQUEST_METHOD:
                is_preflight = scope["method"] == "OPTIONS"
        allowed_origin = self._allowed(origin) if origins_sent == 1 else None
        if is_preflight and origin is not None:
            await self._answer_preflight(send, allowed_origin)
            return
        added = (
            [(b"access-control-allow-origin", allowed_origin), *self._response_headers]
            if allowed_origin is not None
            else [_VARY_ORIGIN]
        )

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *added]
            await send(message)

        await self._app(scope, receive, send_marked)

    def _allowed(self, origin: bytes | None) -> bytes | None:
        """The Access-Control-Allow-Origin value for `origin`, or None when it is not allowed."""
        if self._any_origin:
            return _ANY_ORIGIN_VALUE
        return origin if origin in self._origins else None

    async def _answer_preflight(self, send: Send, allowed_origin: bytes | None) -> None:
        if allowed_origin is None:
            status, body = 403, self._refusal
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                _VARY_ORIGIN,
            ]
        else:
            status, body = 204, b""
            headers = [(b"access-control-allow-origin", allowed_origin), *self._preflight_headers]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})
