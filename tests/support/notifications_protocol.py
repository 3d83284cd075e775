"""The server the notifications protocol e2e tests run against, and the requests they make.

`protocol_server` starts `portico serve` on PostgreSQL with short WebSocket timeouts (auth
1 s, idle 2 s, heartbeat 0.5 s), at most 3 connections per user and a local SMS gateway;
it may log no 5xx, no error and no traceback. The helpers drive its REST routes with an
async client: follows, articles and comments that notify, the notification list, the
sign-up mail, and the keys a browser's push subscription carries.

ACCESS_TOKEN_TTL_SECONDS cannot go below 60, so the expiry tests sign short-lived copies
of real tokens with the server's JWT_SECRET (same session) instead of waiting a minute.
"""

import asyncio
import base64
import email
import email.policy
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.support.live_clients import Account, SmsGateway, eventually, server_failures
from tests.support.network import free_port
from tests.support.server import RunningServer, clean_env, portico_server

JWT_SECRET = "e2e-notifications-protocol-secret-0123456789"
SMS_ACCOUNT = "ACe2e0000000000000000000000000000"
SMS_TOKEN = "e2e-sms-auth-token"
SMS_FROM = "+15005550006"
AUTH_TIMEOUT = 1.0
IDLE_TIMEOUT = 2.0
HEARTBEAT = 0.5
MAX_MESSAGE_BYTES = 4096
MAX_CONNECTIONS = 3
MISSING_TOKEN = {"errors": {"token": ["is missing"]}}


def assert_no_failures(server: RunningServer) -> None:
    failures = server_failures(server.log())
    assert not failures, "the server logged failures:\n" + "\n".join(failures[:40])


@contextmanager
def protocol_server(
    migrated_url: str,
    sms_gateway: SmsGateway,
    mail_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningServer]:
    """The notifications server; on leaving, fails if it logged a failure."""
    env = clean_env(
        WS_MAX_UNAUTHENTICATED="1000",  # these sockets authenticate with the auth message
        DATABASE_URL=migrated_url,
        DATA_DIR=str(tmp_path_factory.mktemp("notifications-data")),
        MAIL_FILE_DIR=str(mail_dir),
        RATE_LIMIT_AUTH_PER_IP="100000",
        RATE_LIMIT_REGISTRATIONS_PER_IP="100000",
        JWT_SECRET=JWT_SECRET,
        WS_AUTH_TIMEOUT_SECONDS=str(AUTH_TIMEOUT),
        WS_IDLE_TIMEOUT_SECONDS=str(IDLE_TIMEOUT),
        WS_HEARTBEAT_SECONDS=str(HEARTBEAT),
        WS_MAX_MESSAGE_BYTES=str(MAX_MESSAGE_BYTES),
        WS_MAX_CONNECTIONS_PER_USER=str(MAX_CONNECTIONS),
        SMS_BASE_URL=sms_gateway.base_url,
        SMS_ACCOUNT_SID=SMS_ACCOUNT,
        SMS_AUTH_TOKEN=SMS_TOKEN,
        SMS_FROM=SMS_FROM,
        # Subscriptions here name hosts that do not resolve offline; the refusal of
        # unlisted, unresolvable and inside endpoints is tests/e2e/test_push_endpoints.py's.
        PUSH_ALLOW_LOCAL_ENDPOINTS="true",
    )
    cwd = tmp_path_factory.mktemp("notifications")
    with portico_server(free_port(), env, cwd) as running:
        yield running
    assert_no_failures(running)


async def follow(api: httpx.AsyncClient, follower: Account, followee: Account) -> None:
    response = await api.post(f"/api/profiles/{followee.name}/follow", headers=follower.headers)
    assert response.status_code == 200, response.text


async def publish(api: httpx.AsyncClient, author: Account) -> str:
    article = {"title": f"Post {uuid.uuid4().hex[:8]}", "description": "d", "body": "b"}
    response = await api.post("/api/articles", json={"article": article}, headers=author.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["article"]["slug"])


async def comment(api: httpx.AsyncClient, commenter: Account, slug: str) -> None:
    response = await api.post(
        f"/api/articles/{slug}/comments",
        json={"comment": {"body": "hi"}},
        headers=commenter.headers,
    )
    assert response.status_code == 201, response.text


async def listed(api: httpx.AsyncClient, account: Account, **params: Any) -> dict[str, Any]:
    response = await api.get("/api/notifications", params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def unread_count(api: httpx.AsyncClient, account: Account) -> int:
    response = await api.get("/api/notifications/unread-count", headers=account.headers)
    assert response.status_code == 200, response.text
    return int(response.json()["unreadCount"])


async def notifications_of(
    api: httpx.AsyncClient, account: Account, count: int
) -> list[dict[str, Any]]:
    """Wait until the account's list holds `count` notifications; return them."""

    async def probe() -> list[dict[str, Any]] | None:
        page = await listed(api, account, limit=100)
        items: list[dict[str, Any]] = page["notifications"]
        return items if len(items) >= count else None

    items = await eventually(probe, what=f"{count} notifications of {account.name}")
    assert len(items) == count, items
    return items


async def followed_by(
    api: httpx.AsyncClient, followee: Account, followers: int
) -> tuple[list[Account], list[dict[str, Any]]]:
    """`followers` new users follow `followee`; their accounts and the notifications."""
    fans = [await Account.register(api) for _ in range(followers)]
    for fan in fans:
        await follow(api, fan, followee)
    return fans, await notifications_of(api, followee, followers)


def iso(expires: int) -> str:
    return datetime.fromtimestamp(expires, UTC).isoformat().replace("+00:00", "Z")


def token_expiry(token: str) -> int:
    return int(jwt.decode(token, options={"verify_signature": False})["exp"])


async def email_to(mail_dir: Path, address: str, subject: str) -> Path:
    """Wait for an .eml file to `address` whose subject holds `subject`."""

    def find() -> Path | None:
        for path in mail_dir.glob("*.eml"):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["To"] == address and subject in str(message["Subject"]):
                return path
        return None

    async def probe() -> Path | None:
        return await asyncio.to_thread(find)

    return await eventually(probe, what=f"an email to {address} about {subject!r}")


async def verify_email(api: httpx.AsyncClient, mail_dir: Path, account: Account) -> None:
    """Prove the account's address through the link mailed at sign-up, as its owner would."""
    path = await email_to(mail_dir, account.email, "Confirm your email address")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    token = str(body.get_content()).split("?token=", 1)[1].split()[0]
    response = await api.post("/api/auth/verify-email", json={"token": token})
    assert response.status_code == 204, response.text


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def browser_keys() -> dict[str, str]:
    """What a browser's PushSubscription.toJSON() carries: a P-256 point and a secret."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    )
    assert len(point) == 65
    return {"p256dh": b64url(point), "auth": b64url(os.urandom(16))}
