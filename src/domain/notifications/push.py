"""A browser's Web Push subscription (RFC 8030 endpoint, RFC 8291 keys)."""

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from domain.shared.errors import DomainError
from domain.users.values import UserId

ENDPOINT_MAX = 2048
P256DH_BYTES = 65
AUTH_BYTES = 16


def _decoded_length(value: str, field: str) -> int:
    try:
        return len(base64.b64decode(value + "=" * (-len(value) % 4), b"-_", validate=True))
    except (binascii.Error, ValueError):
        raise DomainError("must be base64url", field=field) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class PushSubscription:
    """Where the push service accepts messages for one browser, and the keys to encrypt them.

    `p256dh` is the browser's P-256 public key (65 bytes, uncompressed) and `auth` its
    16-byte secret, both base64url as the browser's `PushSubscription.toJSON()` gives them.
    The endpoint must be HTTPS unless `allow_http` (local test servers).
    """

    user_id: UserId
    endpoint: str
    p256dh: str
    auth: str
    created_at: datetime

    @classmethod
    def create(
        cls,
        user_id: UserId,
        *,
        endpoint: str,
        p256dh: str,
        auth: str,
        created_at: datetime,
        allow_http: bool = False,
    ) -> "PushSubscription":
        """Check the endpoint and the keys, then build the subscription."""
        if not endpoint.strip():
            raise DomainError("can't be blank", field="endpoint")
        if not endpoint.isascii():
            raise DomainError("must be an ASCII URL (percent-encode the rest)", field="endpoint")
        if len(endpoint) > ENDPOINT_MAX:
            raise DomainError(
                f"is too long (maximum is {ENDPOINT_MAX} characters)", field="endpoint"
            )
        schemes = {"https", "http"} if allow_http else {"https"}
        try:
            parts = urlsplit(endpoint)
            valid = parts.scheme in schemes and bool(parts.hostname) and parts.port != 0
        except ValueError:
            valid = False
        if not valid:
            raise DomainError("must be an https URL", field="endpoint")
        if _decoded_length(p256dh, "p256dh") != P256DH_BYTES:
            raise DomainError("must be a 65-byte P-256 public key", field="p256dh")
        if _decoded_length(auth, "auth") != AUTH_BYTES:
            raise DomainError("must be a 16-byte secret", field="auth")
        return cls(
            user_id=user_id, endpoint=endpoint, p256dh=p256dh, auth=auth, created_at=created_at
        )
