"""A local push service and a browser's side of RFC 8291, for the Web Push sender tests.

`running(PushService())` serves HTTP on a free port, records every POST and answers as
told. `Browser` holds a subscription's key pair and auth secret and decrypts what a sender
encrypted for it, with its own RFC 8291 code; `vapid` and `verified_claims` read and check
the VAPID authorization a push carried.
"""

import base64
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import uuid4

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from domain.notifications.push import PushSubscription
from domain.users.values import UserId


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class PushService:
    """Records every POST and answers with `status`, `answer_headers` after `delay` seconds."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    status: int = 201
    answer_headers: dict[str, str] = field(default_factory=dict)
    answer_body: bytes = b""
    delay: float = 0.0


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        return


@contextmanager
def running(service: PushService) -> Iterator[PushService]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            headers = {name.lower(): value for name, value in self.headers.items()}
            service.received.append(Received(self.path, headers, self.rfile.read(length)))
            time.sleep(service.delay)
            self.send_response(service.status)
            for name, value in service.answer_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(service.answer_body)))
            self.end_headers()
            self.wfile.write(service.answer_body)

        def log_message(self, *_: Any) -> None:
            return

    server = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    service.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()


def hkdf(secret: bytes, *, salt: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(secret)


@dataclass(frozen=True)
class Browser:
    """A user agent's side of RFC 8291: its key pair and auth secret, and decryption."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def public(self) -> bytes:
        return self.key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)

    def subscribe(self, endpoint: str) -> PushSubscription:
        return PushSubscription.create(
            UserId(uuid4()),
            endpoint=endpoint,
            p256dh=b64url(self.public),
            auth=b64url(self.auth),
            created_at=datetime.now(UTC),
            allow_http=True,
        )

    def decrypt(self, body: bytes) -> bytes:
        salt, record_size, id_length = body[:16], int.from_bytes(body[16:20], "big"), body[20]
        sender_public, record = body[21 : 21 + id_length], body[21 + id_length :]
        assert (record_size, id_length) == (4096, 65)
        assert len(record) <= record_size
        sender_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender_public)
        shared = self.key.exchange(ec.ECDH(), sender_key)
        info = b"WebPush: info\x00" + self.public + sender_public
        ikm = hkdf(shared, salt=self.auth, info=info, length=32)
        cek = hkdf(ikm, salt=salt, info=b"Content-Encoding: aes128gcm\x00", length=16)
        nonce = hkdf(ikm, salt=salt, info=b"Content-Encoding: nonce\x00", length=12)
        padded = AESGCM(cek).decrypt(nonce, record, None).rstrip(b"\x00")
        assert padded.endswith(b"\x02"), "one record, so it must carry the last-record delimiter"
        return padded[:-1]


def vapid(headers: dict[str, str]) -> tuple[str, str]:
    scheme, _, parameters = headers["authorization"].partition(" ")
    assert scheme == "vapid"
    pairs = dict(part.strip().split("=", 1) for part in parameters.split(","))
    assert set(pairs) == {"t", "k"}
    return pairs["t"], pairs["k"]


def verified_claims(token: str, public_key: str, audience: str) -> dict[str, Any]:
    """Check the ES256 signature by hand (raw r||s, RFC 7518) and with PyJWT; the claims."""
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(public_key))
    signing_input, _, signature = token.rpartition(".")
    raw = unb64url(signature)
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    assert jwt.get_unverified_header(token) == {"typ": "JWT", "alg": "ES256"}
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=["ES256"],
        audience=audience,
        options={"require": ["aud", "exp", "sub"]},
    )
    return claims
