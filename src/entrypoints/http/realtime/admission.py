"""Who may open a socket that has not authenticated yet, so no one client can lock out the rest.

A socket that has not authenticated costs the server without telling it who is calling: it
waits in the waiting room until its auth message arrives (or WS_AUTH_TIMEOUT_SECONDS pass).
The room holds WS_MAX_UNAUTHENTICATED sockets per process, and no client address more than
WS_MAX_UNAUTHENTICATED_PER_CLIENT of them, so one address reopening sockets as fast as they
time out fills its own share, never the room. An IPv6 client is counted by its /64, which
any one subscriber usually holds whole. A socket that authenticates at its handshake, with a
ticket, never enters the room.
"""

import contextlib
import ipaddress

IPV6_PREFIX = 64
"""The IPv6 prefix counted as one client: a subscriber is usually given a whole /64."""


class AdmissionRefusedError(Exception):
    """The waiting room, or the client's share of it, is full."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def client_key(address: str) -> str:
    """The address counted as one client: an IPv4 address as is, an IPv6 one by its /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)


class WaitingRoom:
    """Counts the sockets waiting to authenticate, in all and per client address."""

    def __init__(self) -> None:
        self._total = 0
        self._per_client: dict[str, int] = {}

    @property
    def total(self) -> int:
        """Sockets waiting now."""
        return self._total

    def waiting_from(self, address: str) -> int:
        """Sockets waiting now from the client at `address`."""
        return self._per_client.get(client_key(address), 0)

    def admit(self, address: str, *, max_total: int, max_per_client: int) -> "Place":
        """A place held until it is released; AdmissionRefusedError when there is none.

        Checking and taking the place happen with no await between them, so two sockets
        arriving together cannot both take the last one.
        """
        key = client_key(address)
        held = self._per_client.get(key, 0)
        if held >= max_per_client:
            raise AdmissionRefusedError("too many connections waiting from this address")
        if self._total >= max_total:
            raise AdmissionRefusedError("too many connections waiting")
        self._total += 1
        self._per_client[key] = held + 1
        return Place(self, key)

    def _release(self, key: str) -> None:
        self._total -= 1
        left = self._per_client[key] - 1
        if left:
            self._per_client[key] = left
        else:
            del self._per_client[key]


class Place(contextlib.AbstractContextManager["Place"]):
    """One socket's place in the waiting room; released once, at the latest when the block ends."""

    def __init__(self, room: WaitingRoom, key: str) -> None:
        self._room = room
        self._key: str | None = key

    def release(self) -> None:
        """Give the place back; releasing twice is harmless."""
        if self._key is not None:
            key, self._key = self._key, None
            self._room._release(key)  # noqa: SLF001 - the room's own bookkeeping

    def __exit__(self, *_: object) -> None:
        self.release()
