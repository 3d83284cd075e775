"""Name resolution through the operating system's resolver (getaddrinfo)."""

import asyncio
import ipaddress
import socket

from application.notifications.ports import HostNotResolvedError, HostResolver
from domain.notifications.push_endpoint import IPAddress


class SystemHostResolver(HostResolver):
    """The `HostResolver` port over `loop.getaddrinfo`: /etc/hosts, DNS, as the system is set up.

    A look-up that fails, finds nothing, or takes longer than `timeout_seconds` raises
    HostNotResolvedError. getaddrinfo runs in the loop's thread pool and cannot be
    cancelled, so a timed-out look-up finishes in the background and its answer is dropped.
    """

    def __init__(self, *, timeout_seconds: float) -> None:
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        self._timeout = timeout_seconds

    async def addresses(self, host: str) -> frozenset[IPAddress]:
        """Every IPv4 and IPv6 address `host` has, scope ids dropped."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._timeout):
                infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except TimeoutError:
            raise HostNotResolvedError(
                f"{host} did not resolve within {self._timeout:g} seconds"
            ) from None
        except (OSError, UnicodeError) as exc:
            raise HostNotResolvedError(f"{host} does not resolve: {exc}") from None
        found = frozenset(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos)
        if not found:
            raise HostNotResolvedError(f"{host} has no address")
        return found
