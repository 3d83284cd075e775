"""Single-use tickets that authenticate a WebSocket at its handshake (``/ws?ticket=...``).

A signed-in client asks ``POST /api/notifications/live-ticket`` for a ticket, then opens the
socket with it within WS_TICKET_TTL_SECONDS. The socket is authenticated before it is ever
read from, so it never waits in the waiting room that unauthenticated sockets share
(admission.py), however full an attacker keeps it.

A ticket is 32 random bytes. The cache keeps, under a hash of the ticket, the caller's
access token encrypted with a key derived from the ticket, so the cache's contents are of
no use without the ticket itself. Redeeming takes the entry (`Cache.take`, read and delete
in one atomic step, GETDEL on Redis): of any number of racing redemptions, on any number of
processes, one gets the token.

With several workers the cache must be shared (REDIS_URL): a ticket issued by one worker
is otherwise unknown to the others.
"""

import base64
import hashlib
import secrets

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from application.common.ports.cache import Cache, CacheUnavailableError

_KEY_PREFIX = "live-ticket:"
_NONCE = b"\x00" * 12
"""Each key encrypts exactly one message (it is derived from a fresh random ticket)."""
TICKET_BYTES = 32


class TicketUnavailableError(Exception):
    """The cache could not be reached to issue or redeem a ticket."""


def _derive(ticket: str) -> tuple[str, bytes]:
    """The cache key and the encryption key of a ticket; neither reveals the other."""
    raw = ticket.encode()
    lookup = hashlib.sha256(b"portico live ticket id\x00" + raw).hexdigest()
    key = hashlib.sha256(b"portico live ticket key\x00" + raw).digest()
    return _KEY_PREFIX + lookup, key


class LiveTickets:
    """Issues tickets standing for an access token, and redeems each once."""

    def __init__(self, cache: Cache, *, ttl_seconds: int) -> None:
        self._cache = cache
        self._ttl_seconds = ttl_seconds

    @property
    def ttl_seconds(self) -> int:
        """How long a ticket can be redeemed after it is issued."""
        return self._ttl_seconds

    async def issue(self, token: str) -> str:
        """A new ticket for `token`; TicketUnavailableError when the cache fails."""
        ticket = base64.urlsafe_b64encode(secrets.token_bytes(TICKET_BYTES)).decode().rstrip("=")
        cache_key, key = _derive(ticket)
        sealed = AESGCM(key).encrypt(_NONCE, token.encode(), None)
        try:
            await self._cache.set(cache_key, sealed, ttl_seconds=self._ttl_seconds)
        except CacheUnavailableError as exc:
            raise TicketUnavailableError(str(exc)) from exc
        return ticket

    async def redeem(self, ticket: str) -> str | None:
        """The token the ticket stands for, once; None for an unknown, used or expired one."""
        if not ticket or len(ticket) > 2 * TICKET_BYTES:
            return None
        cache_key, key = _derive(ticket)
        try:
            sealed = await self._cache.take(cache_key)
        except CacheUnavailableError as exc:
            raise TicketUnavailableError(str(exc)) from exc
        if sealed is None:
            return None
        try:
            return AESGCM(key).decrypt(_NONCE, sealed, None).decode()
        except (InvalidTag, UnicodeDecodeError):
            return None


class LiveTicketResponse(msgspec.Struct, kw_only=True, rename="camel"):
    """A ticket for ``/ws?ticket=...``, and how many seconds it can be used in."""

    ticket: str
    expires_in: int
