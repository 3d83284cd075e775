"""The opaque tokens port: unguessable tokens and codes, and the form stored in their place."""

from typing import Protocol


class OpaqueTokens(Protocol):
    """Makes unguessable opaque tokens (refresh, verification, reset) and their stored form."""

    def new_token(self) -> str:
        """A fresh URL-safe token with at least 256 bits of entropy."""
        ...

    def fingerprint(self, token: str) -> str:
        """The one-way form stored in place of the token (a keyed hash, hex)."""
        ...

    def successor(self, token: str) -> str:
        """The token that replaces `token` when it is rotated: URL-safe, 256 bits.

        A keyed one-way function of `token`, under a key of its own: only this service can
        compute it, the same token always has the same successor, and knowing a token and
        its successor tells nothing about the key or about any other token's successor.
        """
        ...

    def new_code(self, digits: int) -> str:
        """A uniformly random code of `digits` decimal digits, for typing from an SMS."""
        ...
