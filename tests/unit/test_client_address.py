"""Which address is the client's: the peer, or what trusted proxies forwarded."""

import pytest
from litestar.connection import ASGIConnection

from entrypoints.http.client_address import ClientAddressResolver, parse_networks


def connection(peer: str, forwarded: str | None = None) -> ASGIConnection:  # type: ignore[type-arg]
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    scope = {"type": "http", "client": (peer, 5000), "headers": headers, "path": "/", "state": {}}
    return ASGIConnection(scope)  # type: ignore[arg-type]


PROXIES = ClientAddressResolver(parse_networks("10.0.0.0/8, 192.168.1.5"))


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert ClientAddressResolver(()).resolve(connection("10.1.1.1", "6.6.6.6")) == "10.1.1.1"


def test_an_untrusted_peer_cannot_claim_another_address() -> None:
    assert PROXIES.resolve(connection("203.0.113.9", "6.6.6.6")) == "203.0.113.9"


def test_behind_a_trusted_proxy_the_forwarded_client_is_used() -> None:
    assert PROXIES.resolve(connection("10.0.0.2", "198.51.100.7")) == "198.51.100.7"


def test_only_the_rightmost_untrusted_hop_counts() -> None:
    spoofed = "6.6.6.6, 198.51.100.7, 192.168.1.5"
    assert PROXIES.resolve(connection("10.0.0.2", spoofed)) == "198.51.100.7"


def test_garbage_in_the_header_falls_back_to_the_peer() -> None:
    assert PROXIES.resolve(connection("10.0.0.2", "not-an-ip")) == "10.0.0.2"
    assert PROXIES.resolve(connection("10.0.0.2", "")) == "10.0.0.2"


def test_ipv6_networks_work_too() -> None:
    resolver = ClientAddressResolver(parse_networks("fd00::/8"))
    assert resolver.resolve(connection("fd00::1", "2001:db8::5")) == "2001:db8::5"


def test_a_bad_network_is_refused() -> None:
    with pytest.raises(ValueError, match="does not appear"):
        parse_networks("10.0.0.0/8, nonsense")
