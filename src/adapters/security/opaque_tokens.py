"""Opaque tokens from the OS's CSPRNG, stored as keyed hashes."""

import base64
import hashlib
import hmac
import secrets

from application.common.ports.opaque_tokens import OpaqueTokens

_SUCCESSOR_LABEL = b"portico refresh-token successor v1"


class HmacOpaqueTokens(OpaqueTokens):
    """The `OpaqueTokens` port: 256-bit random tokens, fingerprinted with HMAC-SHA256.

    The fingerprint is keyed, so a leaked table of fingerprints cannot be checked against
    guessed tokens without the key as well. Successors are HMAC-SHA256 under a second key
    derived from the first with a fixed label, so a successor is never a fingerprint.
    """

    def __init__(self, *, key: str) -> None:
        self._key = key.encode()
        self._successor_key = hmac.new(self._key, _SUCCESSOR_LABEL, hashlib.sha256).digest()

    def new_token(self) -> str:
        """43 URL-safe characters from 32 random bytes."""
        return secrets.token_urlsafe(32)

    def fingerprint(self, token: str) -> str:
        """HMAC-SHA256 of the token under the key, hex."""
        return hmac.new(self._key, token.encode(), hashlib.sha256).hexdigest()

    def successor(self, token: str) -> str:
        """43 URL-safe characters: HMAC-SHA256 of the token under the successor key."""
        digest = hmac.new(self._successor_key, token.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def new_code(self, digits: int) -> str:
        """Digits from the CSPRNG, zero-padded, so every code is equally likely."""
        return str(secrets.randbelow(10**digits)).zfill(digits)
