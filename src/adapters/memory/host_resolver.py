"""Host names answered from a table: name resolution without a network."""

import ipaddress
from collections.abc import Iterable, Mapping

from application.notifications.ports import HostNotResolvedError, HostResolver
from domain.notifications.push_endpoint import IPAddress


class InMemoryHostResolver(HostResolver):
    """The `HostResolver` port over a fixed table of names and their addresses.

    A name not in the table, or listed with no address, does not resolve, as when DNS
    answers NXDOMAIN or times out. Names are matched case-insensitively.
    """

    def __init__(self, records: Mapping[str, Iterable[str]] | None = None) -> None:
        self._records = {
            name.lower(): frozenset(ipaddress.ip_address(address) for address in addresses)
            for name, addresses in (records or {}).items()
        }
        self.looked_up: list[str] = []

    async def addresses(self, host: str) -> frozenset[IPAddress]:
        """The addresses listed for `host`; HostNotResolvedError when there are none."""
        self.looked_up.append(host)
        found = self._records.get(host.lower())
        if not found:
            raise HostNotResolvedError(f"{host} does not resolve")
        return found
