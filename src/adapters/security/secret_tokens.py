"""Opaque tokens from the OS's CSPRNG, stored as keyed hashes."""

import hashlib
import hmac
import secrets


class HmacSecretTokens:
    """The `SecretTokens` port: 256-bit random tokens, fingerprinted with HMAC-SHA256.

    The fingerprint is keyed, so a leaked table of fingerprints cannot be checked against
    guessed tokens without the key as well.
    """

    def __init__(self, *, key: str) -> None:
        self._key = key.encode()

    def new_token(self) -> str:
        """43 URL-safe characters from 32 random bytes."""
        return secrets.token_urlsafe(32)

    def fingerprint(self, token: str) -> str:
        """HMAC-SHA256 of the token under the key, hex."""
        return hmac.new(self._key, token.encode(), hashlib.sha256).hexdigest()

    def new_code(self, digits: int) -> str:
        """Digits from the CSPRNG, zero-padded, so every code is equally likely."""
        return str(secrets.randbelow(10**digits)).zfill(digits)
