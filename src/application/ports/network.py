"""Network look-ups the application needs, behind a port so tests need no network."""

from typing import Protocol

from domain.notifications.push_endpoint import IPAddress


class HostNotResolvedError(Exception):
    """The name has no address now: it does not exist, or the resolver failed or was slow."""


class HostResolver(Protocol):
    """Finds the addresses a host name stands for."""

    async def addresses(self, host: str) -> frozenset[IPAddress]:
        """Every address `host` resolves to, never empty; else HostNotResolvedError."""
        ...
