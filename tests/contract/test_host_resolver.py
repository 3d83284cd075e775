"""The `HostResolver` contract, on the memory table and the system's resolver.

The machine that runs the tests may have no internet, so the system resolver is asked
only about `localhost` (from /etc/hosts) and a name RFC 6761 guarantees does not exist.
"""

import ipaddress

import pytest

from adapters.memory.host_resolver import InMemoryHostResolver
from adapters.system.host_resolver import SystemHostResolver
from application.notifications.ports import HostNotResolvedError, HostResolver

LOOPBACKS = frozenset({ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")})


@pytest.fixture(params=["memory", "system"])
def resolver(request: pytest.FixtureRequest) -> HostResolver:
    if request.param == "memory":
        return InMemoryHostResolver({"localhost": ["127.0.0.1", "::1"]})
    return SystemHostResolver(timeout_seconds=5)


async def test_localhost_resolves_to_loopback_addresses_only(resolver: HostResolver) -> None:
    found = await resolver.addresses("localhost")
    assert found
    assert found <= LOOPBACKS
    assert all(address.is_loopback for address in found)


async def test_a_name_that_does_not_exist_raises(resolver: HostResolver) -> None:
    with pytest.raises(HostNotResolvedError):
        await resolver.addresses("portico-test.invalid")


async def test_names_are_case_insensitive(resolver: HostResolver) -> None:
    assert await resolver.addresses("LocalHost") == await resolver.addresses("localhost")


async def test_a_malformed_name_raises_rather_than_crashing(resolver: HostResolver) -> None:
    with pytest.raises(HostNotResolvedError):
        await resolver.addresses("a" * 300)


def test_the_system_resolver_needs_a_positive_timeout() -> None:
    with pytest.raises(ValueError, match="positive"):
        SystemHostResolver(timeout_seconds=0)
