"""The client's address, through the proxies the operator trusts and no others."""

import ipaddress
from collections.abc import Iterable
from typing import Any

from litestar.connection import ASGIConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str | None) -> tuple[Network, ...]:
    """``10.0.0.0/8, 127.0.0.1`` as networks; raises ValueError on a bad entry."""
    if not spec:
        return ()
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()
    )


class ClientAddressResolver:
    """Finds the address to rate-limit and record.

    The direct peer is the client unless it is a trusted proxy. Then X-Forwarded-For is read
    from the right: each hop appended by a trusted proxy is skipped, and the first untrusted
    one is the client. Entries further left are whatever the client claimed, so they are
    never used; with no trusted proxies the header is ignored entirely.
    """

    def __init__(self, trusted: Iterable[Network]) -> None:
        self._trusted = tuple(trusted)

    def resolve(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        """The client address as a string; ``unknown`` when the server was not told."""
        peer = connection.client.host if connection.client else "unknown"
        if not self._is_trusted(peer):
            return peer
        forwarded = connection.headers.get("x-forwarded-for", "")
        for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
            if not self._is_trusted(hop):
                return hop if _is_address(hop) else peer
        return peer

    def _is_trusted(self, address: str) -> bool:
        if not self._trusted or not _is_address(address):
            return False
        ip = ipaddress.ip_address(address)
        return any(ip in network for network in self._trusted)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
