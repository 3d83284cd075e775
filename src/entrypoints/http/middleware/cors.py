"""Cross-origin requests from browsers (CORS), for the origins the operator lists and no others.

Litestar's own CORS middleware is not used: it sends Access-Control-Allow-Credentials,
-Expose-Headers, -Allow-Headers and -Allow-Methods to every origin, allowed or not, sends
`Vary: Origin` only to allowed ones (so a shared cache can hand one origin's answer to
another), echoes any origin that sends a cookie when `*` is allowed, and runs inside the
app, where the body guard's refusals and the concurrency queue come before it.
"""

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from entrypoints.http.errors import envelope_bytes

ANY_ORIGIN = "*"
KNOWN_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
"""The methods a browser may send cross-origin; CONNECT and TRACE it never sends (Fetch)."""

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
"""An RFC 9110 token."""

_ORIGIN = b"origin"
_REQUEST_METHOD = b"access-control-request-method"
_VARY_ORIGIN = (b"vary", b"Origin")
_ANY_ORIGIN_VALUE = ANY_ORIGIN.encode()


def parse_origins(text: str) -> frozenset[str]:
    """Comma-separated origins as browsers send them in Origin, or `*` alone.

    Scheme and host are lowercased and a default port dropped, so that the configured
    form matches the browser's exactly. Raises ValueError naming the first bad item.
    """
    items = _items(text)
    if ANY_ORIGIN in items:
        if len(items) > 1:
            raise ValueError("`*` allows any origin, so it stands alone")
        return frozenset(items)
    return frozenset(_parse_origin(item) for item in items)


def parse_methods(text: str) -> tuple[str, ...]:
    """Comma-separated HTTP methods, uppercased; raises ValueError on an unknown one."""
    methods = tuple(dict.fromkeys(item.upper() for item in _items(text)))
    for method in methods:
        if method not in KNOWN_METHODS:
            known = ", ".join(KNOWN_METHODS)
            raise ValueError(f"unknown method {method!r}; expected some of {known}")
    return methods


def parse_header_names(text: str) -> tuple[str, ...]:
    """Comma-separated header names; raises ValueError on one that is not a token, or `*`."""
    names = tuple(dict.fromkeys(_items(text)))
    for name in names:
        if name == "*" or not _HEADER_NAME.match(name):
            raise ValueError(f"{name!r} is not a header name; list the names themselves")
    return names


@dataclass(frozen=True, slots=True, kw_only=True)
class CorsPolicy:
    """Which origins may call the API from a browser, and what they may send and read.

    `*` never goes with credentials: browsers refuse that answer, and echoing each origin
    instead would let any site act with the user's cookie.
    """

    allowed_origins: frozenset[str]
    allowed_methods: tuple[str, ...]
    allowed_headers: tuple[str, ...]
    exposed_headers: tuple[str, ...]
    allow_credentials: bool
    max_age_seconds: int

    def __post_init__(self) -> None:
        if self.allows_any_origin and self.allow_credentials:
            raise ValueError(
                "`*` cannot be combined with credentials (browsers refuse it); list the origins"
            )

    @property
    def allows_any_origin(self) -> bool:
        """Whether every origin may read the responses (without credentials)."""
        return ANY_ORIGIN in self.allowed_origins


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


def _items(text: str) -> list[str]:
    items = [item.strip() for item in text.split(",")]
    if "" in items:
        raise ValueError(f"has an empty item in {text!r}")
    return items


def _parse_origin(item: str) -> str:
    try:
        parts = urlsplit(item)
        port = parts.port
    except ValueError:
        raise _not_an_origin(item, "has an invalid host or port") from None
    scheme = parts.scheme
    if scheme not in _DEFAULT_PORTS or not item.lower().startswith(f"{scheme}://"):
        raise _not_an_origin(item, "is not http:// or https://")
    if parts.path or parts.query or parts.fragment or "?" in item or "#" in item:
        raise _not_an_origin(item, "has a path, query or fragment (a trailing / is a path)")
    if "@" in parts.netloc:
        raise _not_an_origin(item, "has user info")
    if port == 0:
        raise _not_an_origin(item, "has an invalid host or port")
    shown_port = "" if port in (None, _DEFAULT_PORTS[scheme]) else f":{port}"
    return f"{scheme}://{_host(item, parts.netloc, parts.hostname or '')}{shown_port}"


def _host(item: str, netloc: str, hostname: str) -> str:
    """The host as browsers serialize it: lowercase, an IPv6 address compressed in brackets."""
    if netloc.startswith("["):
        try:
            return f"[{ipaddress.IPv6Address(hostname).compressed}]"
        except ValueError:
            raise _not_an_origin(item, "has an invalid host or port") from None
    if not hostname.isascii():
        raise _not_an_origin(item, "has a non-ASCII host; write it in its xn-- form")
    if not all(_HOST_LABEL.match(label) for label in hostname.split(".")):
        raise _not_an_origin(item, "has an invalid host or port")
    return hostname


def _not_an_origin(item: str, reason: str) -> ValueError:
    return ValueError(
        f"{item!r} {reason}; an origin is scheme://host[:port], such as https://app.example.com"
    )
