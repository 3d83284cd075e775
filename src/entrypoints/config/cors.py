"""The CORS policy the settings describe, and the parsing of its variables.

Browsers send an Origin as `scheme://host[:port]`, lowercased, default port left out; the
configured origins are parsed into that same form so the middleware compares bytes.
"""

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

ANY_ORIGIN = "*"
KNOWN_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
"""The methods a browser may send cross-origin; CONNECT and TRACE it never sends (Fetch)."""

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
"""An RFC 9110 token."""


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
