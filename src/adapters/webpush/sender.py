"""Web Push over httpx: RFC 8291 payload encryption (aes128gcm, RFC 8188) and RFC 8292 VAPID."""

import asyncio
import base64
import ipaddress
import os
import socket
import string
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import urlsplit

import http_ece  # type: ignore[import-untyped]
import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from adapters.opentelemetry.http_client import traced_transport
from adapters.system.clock import SystemClock
from application.common.ports.clock import Clock
from application.notifications import ports as notification_ports
from application.notifications.ports import PushMessage, PushOutcome, PushSender
from domain.notifications.push import PushSubscription
from domain.notifications.push_endpoint import is_public_address

RECORD_SIZE: Final = 4096
MAX_BODY: Final = 4096
_HEADER_BYTES = 16 + 4 + 1 + 65
_RECORD_OVERHEAD = 1 + 16
MAX_PAYLOAD: Final = MAX_BODY - _HEADER_BYTES - _RECORD_OVERHEAD
TOKEN_LIFETIME: Final = timedelta(hours=12)
TOKEN_RENEWAL: Final = timedelta(minutes=30)
URGENCIES: Final = frozenset({"very-low", "low", "normal", "high"})

_TOKEN_CACHE_SIZE = 256
_TOPIC_MAX = 32
_BASE64URL = frozenset(string.ascii_letters + string.digits + "-_")
_DEFAULT_PORTS = {"https": 443, "http": 80}
_DELIVERED = frozenset({200, 201, 202})
_GONE = frozenset({404, 410})
_RETRYABLE = frozenset({408, 429})


class PushDeliveryError(Exception):
    """The push service did not take the message; `status` is its HTTP status if it answered.

    Messages name the endpoint's origin only: the rest of an endpoint is a capability to
    push to one browser, so it stays out of errors and logs.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class PushRejectedError(PushDeliveryError, notification_ports.PushRejectedError):
    """The message cannot be delivered to the subscription; the same request fails again.

    Raised for a 4xx other than 404, 408, 410 and 429 (413 when the payload is too large,
    400 or 403 when the service refuses the request or the VAPID credentials, and so on),
    an unexpected status, or a subscription whose key is not a P-256 point.
    """


class PushUnavailableError(PushDeliveryError):
    """The push service cannot take the message now (408, 429, 5xx, timeout, network); retry.

    `retry_after_seconds` is the service's Retry-After, when it gave one in seconds.
    """

    def __init__(
        self, message: str, *, status: int | None = None, retry_after_seconds: int | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after_seconds = retry_after_seconds


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _load_private_key(private_key: str) -> ec.EllipticCurvePrivateKey:
    try:
        raw = _b64url_decode(private_key.strip())
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ValueError("the VAPID private key must be 32 bytes, base64url-encoded")
    try:
        return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except ValueError:
        raise ValueError("the VAPID private key is not a valid P-256 private key") from None


def _public_point(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def generate_vapid_keys() -> tuple[str, str]:
    """A new VAPID key pair: the raw 32-byte private key and the 65-byte public point.

    Both are base64url without padding, the format of web-push tools; the public key is
    what browsers take as `applicationServerKey`.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    return _b64url_encode(private), _b64url_encode(_public_point(key))


def vapid_public_key(private_key: str) -> str:
    """The base64url public point of a base64url VAPID private key; ValueError if invalid."""
    return _b64url_encode(_public_point(_load_private_key(private_key)))


def endpoint_origin(endpoint: str) -> str:
    """The origin of a push endpoint (RFC 6454): the VAPID audience, and all of it safe to log."""
    parts = urlsplit(endpoint)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _receiver_key(subscription: PushSubscription) -> ec.EllipticCurvePublicKey:
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), _b64url_decode(subscription.p256dh)
        )
    except ValueError:
        raise PushRejectedError("the subscription's p256dh is not a P-256 public key") from None


def _encrypt(
    plaintext: bytes, *, receiver_key: ec.EllipticCurvePublicKey, auth_secret: bytes
) -> bytes:
    """RFC 8291 with a fresh sender key pair and salt, as one aes128gcm record."""
    sender_key = ec.generate_private_key(ec.SECP256R1())
    body: bytes = http_ece.encrypt(
        plaintext,
        salt=os.urandom(16),
        private_key=sender_key,
        dh=receiver_key,
        auth_secret=auth_secret,
        rs=RECORD_SIZE,
        version="aes128gcm",
    )
    return body


def _push_headers(message: PushMessage) -> dict[str, str]:
    if message.ttl_seconds < 0:
        raise ValueError("ttl_seconds must not be negative")
    if message.urgency not in URGENCIES:
        raise ValueError(f"urgency must be one of {sorted(URGENCIES)}")
    headers = {"TTL": str(message.ttl_seconds), "Urgency": message.urgency}
    if message.topic is not None:
        topic = message.topic
        if not 0 < len(topic) <= _TOPIC_MAX or not set(topic) <= _BASE64URL:
            raise ValueError(f"topic must be 1 to {_TOPIC_MAX} base64url characters")
        headers["Topic"] = topic
    return headers


def _retry_after(response: httpx.Response) -> int | None:
    value = response.headers.get("Retry-After", "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


async def _refuse_private_hosts(endpoint: str, origin: str) -> None:
    """Raise PushRejectedError unless every address the endpoint's host has is public."""
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 443)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise PushUnavailableError(f"push service {origin} does not resolve") from exc
    addresses = {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}
    if not addresses or not all(is_public_address(address) for address in addresses):
        raise PushRejectedError(f"push service {origin} is not on a public address")


def _outcome(response: httpx.Response, origin: str) -> PushOutcome:
    status = response.status_code
    if status in _DELIVERED:
        return PushOutcome.DELIVERED
    if status in _GONE:
        return PushOutcome.GONE
    if status in _RETRYABLE or status >= 500:
        raise PushUnavailableError(
            f"push service {origin} answered {status}",
            status=status,
            retry_after_seconds=_retry_after(response),
        )
    if status == 413:
        raise PushRejectedError(
            f"push service {origin} answered 413: payload too large", status=413
        )
    raise PushRejectedError(f"push service {origin} answered {status}", status=status)


@dataclass(frozen=True, slots=True)
class _Authorization:
    header: str
    renew_at: datetime


class WebPushSender(PushSender):
    """The `PushSender` port: encrypted Web Push messages, authenticated with VAPID.

    Each message is encrypted (RFC 8291) with a fresh key pair for the subscription's keys
    and posted to its endpoint with TTL, Urgency, Topic (if any) and
    ``Authorization: vapid t=<JWT>, k=<public key>``. The ES256 JWT's audience is the
    endpoint's origin, its subject `vapid_subject` (a ``mailto:`` or ``https:`` URL the push
    service can contact) and it expires TOKEN_LIFETIME after signing; signing costs more than
    encrypting, so one token per audience is reused until TOKEN_RENEWAL before it expires,
    for the last few hundred audiences.

    An empty payload is sent as a push without a body (RFC 8030), with no Content-Encoding.
    A payload over MAX_PAYLOAD bytes (the body would exceed 4096), a negative TTL, an
    unknown urgency or a malformed topic raise ValueError before anything is sent.

    200, 201 and 202 are DELIVERED; 404 and 410 are GONE. Other answers raise
    `PushUnavailableError` (retry) or `PushRejectedError` (do not), as they describe.
    Redirects are not followed. A client passed in stays open; one made here is closed by
    `aclose`.

    Endpoints come from users, so unless `allow_private_networks` (local testing) an
    endpoint whose host resolves to any address `is_public_address` refuses (loopback,
    private, link-local, cloud metadata and the like) is refused (`PushRejectedError`)
    before anything is sent: the worker must not become a way to reach internal services.
    The check runs at each send, so it also covers names whose records change after
    subscribing; a resolver that answers differently between the check and the connection
    is not covered. Errors name the status, never the response body. While the process
    traces, each post gets a span naming the push service's host only.
    """

    def __init__(
        self,
        *,
        vapid_private_key: str,
        vapid_subject: str,
        timeout_seconds: float,
        client: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        allow_private_networks: bool = False,
    ) -> None:
        self._allow_private_networks = allow_private_networks
        if not vapid_subject.startswith(("mailto:", "https://")):
            raise ValueError("the VAPID subject must be a mailto: or https: URL")
        self._key = _load_private_key(vapid_private_key)
        self._public_key = _b64url_encode(_public_point(self._key))
        self._subject = vapid_subject
        self._timeout = httpx.Timeout(timeout_seconds)
        self._owns_client = client is None
        self._client = (
            client
            if client is not None
            else httpx.AsyncClient(timeout=self._timeout, transport=traced_transport())
        )
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._authorizations: OrderedDict[str, _Authorization] = OrderedDict()

    @property
    def application_server_key(self) -> str:
        """The VAPID public key, base64url: what browsers pass as `applicationServerKey`."""
        return self._public_key

    async def send(self, subscription: PushSubscription, message: PushMessage) -> PushOutcome:
        """Encrypt the payload for the subscription's keys and post it to its endpoint."""
        headers = _push_headers(message)
        body = b""
        if message.payload:
            if len(message.payload) > MAX_PAYLOAD:
                raise ValueError(
                    f"push payload is {len(message.payload)} bytes; the maximum is {MAX_PAYLOAD}"
                )
            body = _encrypt(
                message.payload,
                receiver_key=_receiver_key(subscription),
                auth_secret=_b64url_decode(subscription.auth),
            )
            headers["Content-Encoding"] = "aes128gcm"
            headers["Content-Type"] = "application/octet-stream"
        origin = endpoint_origin(subscription.endpoint)
        if not self._allow_private_networks:
            await _refuse_private_hosts(subscription.endpoint, origin)
        headers["Authorization"] = self._authorization(origin)
        try:
            response = await self._client.post(
                subscription.endpoint,
                content=body,
                headers=headers,
                timeout=self._timeout,
                follow_redirects=False,
            )
        except httpx.HTTPError as exc:
            raise PushUnavailableError(
                f"push service {origin} unreachable: {type(exc).__name__}"
            ) from exc
        return _outcome(response, origin)

    async def aclose(self) -> None:
        """Close the HTTP client if this sender made it."""
        if self._owns_client:
            await self._client.aclose()

    def _authorization(self, audience: str) -> str:
        now = self._clock.now()
        cached = self._authorizations.get(audience)
        if cached is not None and now < cached.renew_at:
            self._authorizations.move_to_end(audience)
            return cached.header
        expires = now + TOKEN_LIFETIME
        claims = {"aud": audience, "exp": int(expires.timestamp()), "sub": self._subject}
        token = jwt.encode(claims, self._key, algorithm="ES256")
        header = f"vapid t={token}, k={self._public_key}"
        self._authorizations[audience] = _Authorization(header, expires - TOKEN_RENEWAL)
        self._authorizations.move_to_end(audience)
        while len(self._authorizations) > _TOKEN_CACHE_SIZE:
            self._authorizations.popitem(last=False)
        return header
