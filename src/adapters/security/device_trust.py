"""Device tokens signed with HMAC-SHA256: nothing is stored, and only the key can make one."""

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta

from application.common.ports.clock import Clock
from application.users.ports import DeviceTrust

_LONGEST = 128


class HmacDeviceTrust(DeviceTrust):
    """The `DeviceTrust` port as ``<expires>.<nonce>.<signature>``.

    The signature covers the account, the expiry (Unix seconds) and a 128-bit random nonce,
    which is the device's id. The account is not written in the token, only bound by the
    signature, so a token reveals nothing about whose it is.
    """

    def __init__(self, *, key: str, ttl: timedelta, clock: Clock) -> None:
        self._key = key.encode()
        self._ttl = ttl
        self._clock = clock

    def issue(self, account: str) -> str:
        """A token for `account` that expires `ttl` from now."""
        expires = str(int((self._clock.now() + self._ttl).timestamp()))
        nonce = secrets.token_urlsafe(16)
        return f"{expires}.{nonce}.{self._sign(account, expires, nonce)}"

    def device_of(self, token: str, account: str) -> str | None:
        """The nonce of a live token signed for `account`, checked in constant time."""
        if len(token) > _LONGEST or not token.isascii():
            return None
        parts = token.split(".")
        if len(parts) != 3:
            return None
        expires, nonce, signature = parts
        if not hmac.compare_digest(signature, self._sign(account, expires, nonce)):
            return None
        if int(expires) <= self._clock.now().timestamp():
            return None
        return nonce

    def _sign(self, account: str, expires: str, nonce: str) -> str:
        message = f"{expires}.{nonce}.{account}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
