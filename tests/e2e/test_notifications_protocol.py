"""Notifications against `portico serve` on PostgreSQL: the WebSocket protocol, SSE, REST.

Servers: one with short WebSocket timeouts (auth 1 s, idle 2 s, heartbeat 0.5 s), at most
3 connections per user and a local SMS gateway, for almost everything; one with a send
queue of 2 and long timeouts, on a schema of its own, for the client that stops reading;
and a short-lived one that is stopped under an open socket. None may log a 5xx, an error
or a traceback.

ACCESS_TOKEN_TTL_SECONDS cannot go below 60, so the expiry tests sign short-lived copies
of real tokens with the server's JWT_SECRET (same session) instead of waiting a minute.
"""

import asyncio
import base64
import email
import email.policy
import json
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from websockets.asyncio.client import ClientConnection

from tests.support.live_clients import (
    Account,
    SmsGateway,
    authenticate,
    authenticated,
    closed_with,
    eventually,
    kept_alive,
    next_message,
    open_socket,
    receive_json,
    send_json,
    server_failures,
    short_lived_copy,
    sse_events,
    stalled_socket,
)
from tests.support.network import free_port
from tests.support.postgres import isolated_schema, run_alembic
from tests.support.server import RunningServer, clean_env, portico_server

pytestmark = pytest.mark.e2e

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
NOT_FOUND = {"errors": {"notification": ["not found"]}}
KINDS = (
    "new_follower",
    "new_article",
    "new_comment",
    "article_favorited",
    "new_login",
    "password_changed",
)
CHANNELS = ("in_app", "email", "sms", "push")


def assert_no_failures(server: RunningServer) -> None:
    failures = server_failures(server.log())
    assert not failures, "the server logged failures:\n" + "\n".join(failures[:40])


@pytest.fixture(scope="module")
def sms_gateway() -> Iterator[SmsGateway]:
    with SmsGateway().running() as gateway:
        yield gateway


@pytest.fixture(scope="module")
def mail_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("notifications-mail")


@pytest.fixture(scope="module")
def server(
    migrated_url: str,
    sms_gateway: SmsGateway,
    mail_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningServer]:
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


@pytest.fixture(scope="module")
def own_schema_url(postgres_url: str) -> Iterator[str]:
    """A second migrated schema: two embedded-mode servers on one outbox would each relay
    the other's events, and deliver them to their own in-memory realtime broadcaster."""
    with isolated_schema(postgres_url, prefix="slowreader") as url:
        run_alembic(url, "upgrade", "head")
        yield url


@pytest.fixture(scope="module")
def slow_reader_server(
    own_schema_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """A send queue of 2; heartbeats and the idle timeout far away, so only pushes count."""
    env = clean_env(
        WS_MAX_UNAUTHENTICATED="1000",  # these sockets authenticate with the auth message
        DATABASE_URL=own_schema_url,
        DATA_DIR=str(tmp_path_factory.mktemp("slow-reader-data")),
        RATE_LIMIT_AUTH_PER_IP="100000",
        RATE_LIMIT_REGISTRATIONS_PER_IP="100000",
        RATE_LIMIT_COMMENTS_PER_USER="100000",  # a comment flood fills the slow socket
        WS_SEND_QUEUE_SIZE="2",
        WS_HEARTBEAT_SECONDS="30",
        WS_IDLE_TIMEOUT_SECONDS="30",
    )
    cwd = tmp_path_factory.mktemp("slow-reader")
    with portico_server(free_port(), env, cwd) as running:
        yield running
    assert_no_failures(running)


@pytest.fixture
async def api(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        yield client


# --- helpers -------------------------------------------------------------------------------


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


# --- WebSocket: authentication -------------------------------------------------------------


async def test_a_socket_that_never_authenticates_is_closed_4401(server: RunningServer) -> None:
    ws = await open_socket(server.base_url)
    started = time.monotonic()
    code, reason = await closed_with(ws, within=5)
    elapsed = time.monotonic() - started
    assert code == 4401, reason
    assert AUTH_TIMEOUT - 0.3 <= elapsed < AUTH_TIMEOUT + 2, elapsed


@pytest.mark.parametrize(
    "first",
    [
        pytest.param('{"type": "ping"}', id="not-auth"),
        pytest.param("this is not json", id="garbage"),
        pytest.param("[1, 2, 3]", id="json-not-an-object"),
        pytest.param('{"type": "auth"}', id="no-token"),
        pytest.param('{"type": "auth", "token": 42}', id="token-not-a-string"),
        pytest.param('{"type": "auth", "token": "not.a.jwt"}', id="bad-token"),
        pytest.param("FORGED", id="token-signed-with-another-key"),
    ],
)
async def test_a_first_message_that_is_not_a_valid_auth_closes_4401(
    server: RunningServer, api: httpx.AsyncClient, first: str
) -> None:
    if first == "FORGED":
        user = await Account.register(api)
        claims = jwt.decode(user.token, options={"verify_signature": False})
        forged = jwt.encode(claims, "another-secret-of-at-least-32-bytes!!", algorithm="HS256")
        first = f'{{"type": "auth", "token": "{forged}"}}'
    ws = await open_socket(server.base_url)
    await ws.send(first)
    code, reason = await closed_with(ws, within=5)
    assert code == 4401, (first, reason)


async def test_auth_ok_carries_the_expiry_and_ping_echoes_its_id(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    user = await Account.register(api)
    async with authenticated(server.base_url, user.token, request_id="a-1") as (ws, ok):
        assert ok == {
            "type": "auth_ok",
            "expiresAt": iso(token_expiry(user.token)),
            "id": "a-1",
        }
        await send_json(ws, {"type": "ping", "id": "p-7"})
        assert await next_message(ws, "pong") == {"type": "pong", "id": "p-7"}
        await send_json(ws, {"type": "ping", "id": 42})
        assert await next_message(ws, "pong") == {"type": "pong", "id": 42}
        await send_json(ws, {"type": "ping"})
        assert await next_message(ws, "pong") == {"type": "pong"}


# --- WebSocket: requests -------------------------------------------------------------------


async def test_get_notifications_answers_what_rest_lists(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    user = await Account.register(api)
    _, items = await followed_by(api, user, 3)
    read = await api.post(f"/api/notifications/{items[0]['id']}/read", headers=user.headers)
    assert read.status_code == 200, read.text
    async with authenticated(server.base_url, user.token) as (ws, _):
        cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
            ({}, {}),
            ({"limit": 2, "offset": 1}, {"limit": 2, "offset": 1}),
            ({"unread": True}, {"unread": "true"}),
        ]
        for request, params in cases:
            await send_json(ws, {"type": "get_notifications", "id": "g", **request})
            answer = await next_message(ws, "notifications")
            assert answer["id"] == "g"
            assert answer["data"] == await listed(api, user, **params), request
        assert answer["data"]["notificationsCount"] == 2  # the unread ones


async def test_mark_read_marks_only_the_callers_notifications(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    owner, other = await Account.register(api), await Account.register(api)
    _, mine = await followed_by(api, owner, 2)
    _, theirs = await followed_by(api, other, 1)
    async with authenticated(server.base_url, owner.token) as (ws, _):
        ids = [mine[0]["id"], theirs[0]["id"], "not-a-uuid"]
        await send_json(ws, {"type": "mark_read", "ids": ids, "id": 9})
        answer = await next_message(ws, "marked_read")
    assert answer == {
        "type": "marked_read",
        "data": {"ids": [mine[0]["id"]], "unreadCount": 1},
        "id": 9,
    }
    after = {item["id"]: item for item in (await listed(api, owner))["notifications"]}
    assert after[mine[0]["id"]]["readAt"] is not None
    assert after[mine[1]["id"]]["readAt"] is None
    (other_after,) = (await listed(api, other))["notifications"]
    assert other_after["id"] == theirs[0]["id"]
    assert other_after["readAt"] is None, "another user's notification was marked read"
    assert await unread_count(api, other) == 1


@pytest.mark.parametrize(
    ("message", "code"),
    [
        pytest.param({"type": "subscribe"}, "unknown_type", id="unknown-type"),
        pytest.param({"kind": "ping"}, "unknown_type", id="no-type"),
        pytest.param({"type": "get_notifications", "limit": 1000}, "limit", id="limit-1000"),
        pytest.param({"type": "get_notifications", "limit": -1}, "limit", id="limit-negative"),
        pytest.param({"type": "get_notifications", "limit": "5"}, "limit", id="limit-text"),
        pytest.param({"type": "get_notifications", "offset": -3}, "offset", id="offset"),
        pytest.param({"type": "get_notifications", "offset": "2"}, "offset", id="offset-text"),
        pytest.param({"type": "get_notifications", "unread": "yes"}, "unread", id="unread"),
        pytest.param({"type": "mark_read", "ids": "all"}, "ids", id="ids-not-a-list"),
        pytest.param(
            {"type": "mark_read", "ids": [str(uuid.uuid4()) for _ in range(101)]},
            "ids",
            id="ids-101",
        ),
    ],
)
async def test_a_bad_request_is_answered_with_an_error_and_the_socket_stays(
    server: RunningServer, api: httpx.AsyncClient, message: dict[str, Any], code: str
) -> None:
    user = await Account.register(api)
    async with authenticated(server.base_url, user.token) as (ws, _):
        await send_json(ws, {"id": "r", **message})
        error = await next_message(ws, "error")
        assert error["id"] == "r"
        assert error["error"]["code"] == code, (
            f"the error names {error['error']['code']!r}, not the field at fault {code!r}: {error}"
        )
        assert isinstance(error["error"]["message"], str)
        assert error["error"]["message"]
        await send_json(ws, {"type": "ping", "id": "still-there"})
        assert (await next_message(ws, "pong"))["id"] == "still-there"


async def test_text_that_is_not_json_after_auth_is_an_error_not_a_close(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    user = await Account.register(api)
    async with authenticated(server.base_url, user.token) as (ws, _):
        await ws.send("{{{ not json")
        error = await next_message(ws, "error")
        assert error["error"]["code"] == "bad_request"
        await send_json(ws, {"type": "ping", "id": 1})
        assert (await next_message(ws, "pong"))["id"] == 1


async def test_an_oversized_message_closes_1009(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    user = await Account.register(api)
    async with authenticated(server.base_url, user.token) as (ws, _):
        await send_json(ws, {"type": "ping", "id": "x" * MAX_MESSAGE_BYTES})
        code, reason = await closed_with(ws)
        assert code == 1009, reason
    first = await open_socket(server.base_url)
    await send_json(first, {"type": "auth", "token": user.token, "pad": "x" * MAX_MESSAGE_BYTES})
    code, reason = await closed_with(first)
    assert code == 1009, reason


async def test_an_oversized_binary_frame_closes_1009_too(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    user = await Account.register(api)
    async with authenticated(server.base_url, user.token) as (ws, _):
        await ws.send(b"x" * (MAX_MESSAGE_BYTES * 25))
        seen: list[dict[str, Any]] = []
        code, reason = await closed_with(ws, within=3, seen=seen)
    assert code == 1009, (
        f"a {MAX_MESSAGE_BYTES * 25}-byte binary frame was read whole and answered {seen} "
        f"(then {code} {reason!r}): WS_MAX_MESSAGE_BYTES is only checked on text frames"
    )


async def test_an_idle_socket_gets_heartbeats_then_is_closed_4408(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    user = await Account.register(api)
    ws, _ = await authenticate(server.base_url, user.token)
    started = time.monotonic()
    seen: list[dict[str, Any]] = []
    code, reason = await closed_with(ws, within=IDLE_TIMEOUT + 3, seen=seen)
    elapsed = time.monotonic() - started
    assert code == 4408, reason
    assert IDLE_TIMEOUT - 0.3 <= elapsed < IDLE_TIMEOUT + 2, elapsed
    heartbeats = [message for message in seen if message == {"type": "heartbeat"}]
    assert len(heartbeats) >= int(IDLE_TIMEOUT / HEARTBEAT) - 1, seen
    assert len(heartbeats) == len(seen), seen


# --- WebSocket: token lifetime -------------------------------------------------------------


async def test_the_socket_closes_4401_when_its_token_expires(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    user = await Account.register(api)
    token, expires = short_lived_copy(user.token, secret=JWT_SECRET, seconds=2.5)
    ws, ok = await authenticate(server.base_url, token)
    assert ok["expiresAt"] == iso(expires)
    async with kept_alive(ws):
        code, reason = await closed_with(ws, within=6)
    assert code == 4401, reason
    assert "expired" in reason
    assert abs(time.time() - expires) < 1.5, "closed too far from the token's expiry"


async def test_a_fresh_token_before_expiry_keeps_the_socket_open(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    user = await Account.register(api)
    token, expires = short_lived_copy(user.token, secret=JWT_SECRET, seconds=2.5)
    async with authenticated(server.base_url, token) as (ws, _):
        fresh = await user.log_in(api)
        await send_json(ws, {"type": "auth", "token": fresh, "id": "renew"})
        renewed = await next_message(ws, "auth_ok")
        assert renewed == {"type": "auth_ok", "expiresAt": iso(token_expiry(fresh)), "id": "renew"}
        assert token_expiry(fresh) > expires
        async with kept_alive(ws):
            await asyncio.sleep(max(0.0, expires - time.time()) + 1.5)
        await send_json(ws, {"type": "ping", "id": "after"})
        assert await next_message(ws, "pong", answering="after")


@pytest.mark.parametrize("which", ["another-users-token", "an-invalid-token"])
async def test_reauthenticating_with_someone_elses_or_a_bad_token_closes_4401(
    server: RunningServer, api: httpx.AsyncClient, which: str
) -> None:
    user, other = await Account.register(api), await Account.register(api)
    token = other.token if which == "another-users-token" else "not.a.jwt"
    async with authenticated(server.base_url, user.token) as (ws, _):
        await send_json(ws, {"type": "auth", "token": token})
        code, reason = await closed_with(ws)
        assert code == 4401, reason


# --- WebSocket: pushes ---------------------------------------------------------------------


async def test_every_socket_of_the_user_receives_a_new_notification(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    user, fan = await Account.register(api), await Account.register(api)
    async with (
        authenticated(server.base_url, user.token) as (first, _),
        authenticated(server.base_url, user.token) as (second, _),
        kept_alive(first, second),
    ):
        await follow(api, fan, user)
        pushed = [await next_message(ws, "new_notification") for ws in (first, second)]
    assert pushed[0] == pushed[1]
    data = pushed[0]["data"]
    assert data["kind"] == "new_follower"
    assert data["actor"] == {"username": fan.name}
    assert data["readAt"] is None
    assert [data] == (await listed(api, user))["notifications"]


async def test_connections_per_user_are_capped_and_released(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    user = await Account.register(api)
    stream_path = "/api/notifications/stream"
    async with (
        authenticated(server.base_url, user.token) as (first, _),
        authenticated(server.base_url, user.token),
        authenticated(server.base_url, user.token),
        kept_alive(first),
    ):
        extra = await open_socket(server.base_url)
        await send_json(extra, {"type": "auth", "token": user.token})
        code, reason = await closed_with(extra)
        assert code == 4429, reason
        refused = await api.get(stream_path, headers=user.headers)
        assert refused.status_code == 429
        assert list(refused.json()["errors"]) == ["rate_limit"]
        assert "retry-after" in refused.headers
        await first.close()

        async def replaced() -> bool:
            ws = await open_socket(server.base_url)
            await send_json(ws, {"type": "auth", "token": user.token})
            answer = await ws.recv()
            await ws.close()
            return "auth_ok" in answer

        await eventually(replaced, what="a socket to replace the closed one")

    for _ in range(2 * MAX_CONNECTIONS):  # streams closed by the client free their slot
        async with api.stream("GET", stream_path, headers=user.headers) as response:
            assert response.status_code == 200
            await anext(response.aiter_lines())
    async with (
        authenticated(server.base_url, user.token),
        authenticated(server.base_url, user.token),
    ):
        await eventually(replaced, what="slots freed by closed streams")


async def test_a_client_that_stops_reading_is_dropped_1013_and_only_that_one(
    slow_reader_server: RunningServer,
) -> None:
    """The stalled reader announces a tiny window and MSS (see `stalled_socket`), so the
    server's writes to it block after some dozens of notifications and its queue of 2
    overflows; the same user's other socket keeps receiving everything.

    How many pushes the kernel absorbs before a write blocks varies from run to run, so the
    test pushes in batches until the server reports the drop, within a generous bound.
    """
    server = slow_reader_server
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as api:
        author, commenter = await Account.register(api), await Account.register(api)
        slug = await publish(api, author)
        stalled, _ = await authenticate(
            server.base_url, author.token, sock=stalled_socket(server.base_url), max_queue=1
        )
        try:
            async with authenticated(server.base_url, author.token) as (healthy, _):
                await _overflow_only_the_stalled_socket(
                    server, api, healthy=healthy, stalled=stalled, commenter=commenter, slug=slug
                )
        finally:
            await stalled.close()


_DROPPED_FOR_OVERFLOW = "its send queue of 2 overflowed"


async def _overflow_only_the_stalled_socket(
    server: RunningServer,
    api: httpx.AsyncClient,
    *,
    healthy: ClientConnection,
    stalled: ClientConnection,
    commenter: Account,
    slug: str,
) -> None:
    batch, most = 8, 1600
    pushes = 0
    pushed: list[dict[str, Any]] = []

    async def drain() -> None:
        while True:
            message = await receive_json(healthy, within=60)
            if message["type"] == "new_notification":
                pushed.append(message)

    reader = asyncio.create_task(drain())
    while _DROPPED_FOR_OVERFLOW not in server.log():
        assert pushes < most, f"the stalled socket was never dropped after {pushes} pushes"
        await asyncio.gather(*(comment(api, commenter, slug) for _ in range(batch)))
        pushes += batch

    async def all_pushed() -> bool:
        assert not reader.done(), (
            f"the healthy socket ended after {len(pushed)} pushes: {reader.exception()!r}"
        )
        return len(pushed) == pushes

    await eventually(all_pushed, within=30, what=f"{pushes} pushes to the healthy socket")
    reader.cancel()
    seen: list[dict[str, Any]] = []
    code, reason = await closed_with(stalled, within=10, seen=seen)
    assert code == 1013, (
        f"the stalled socket ended with {code} {reason!r} after {len(seen)} messages"
    )
    assert reason == "send queue overflowed"
    assert len([m for m in seen if m["type"] == "new_notification"]) < pushes
    await send_json(healthy, {"type": "ping", "id": "alive"})
    assert await next_message(healthy, "pong", answering="alive")
    await comment(api, commenter, slug)
    after = await next_message(healthy, "new_notification")
    assert after["data"]["kind"] == "new_comment"


async def test_stopping_the_server_ends_live_sockets_at_once(
    own_schema_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = clean_env(
        WS_MAX_UNAUTHENTICATED="1000",  # these sockets authenticate with the auth message
        DATABASE_URL=own_schema_url,
        DATA_DIR=str(tmp_path_factory.mktemp("shutdown-data")),
        RATE_LIMIT_AUTH_PER_IP="100000",
        RATE_LIMIT_REGISTRATIONS_PER_IP="100000",
    )
    with portico_server(free_port(), env, tmp_path_factory.mktemp("shutdown")) as running:
        async with httpx.AsyncClient(base_url=running.base_url, timeout=10) as api:
            user = await Account.register(api)
        ws, _ = await authenticate(running.base_url, user.token)
        exit_code, took = await asyncio.to_thread(running.stop)
        code, reason = await closed_with(ws)
        log = running.log()
    assert exit_code == 0, log
    assert took < 10, took
    assert not server_failures(log), log
    assert code in {1001, None}, (
        f"on SIGTERM an open socket ended with {code} ({reason}): 1001 where the server "
        "lets the app close it, no close frame (1006) where granian drops it first"
    )


# --- Server-Sent Events --------------------------------------------------------------------


async def test_the_stream_needs_a_token(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/notifications/stream")
    assert response.status_code == 401
    assert response.json() == MISSING_TOKEN
    response = await api.get(
        "/api/notifications/stream", headers={"Authorization": "Token not.a.jwt"}
    )
    assert response.status_code == 401
    assert response.json() == {"errors": {"token": ["is invalid"]}}


async def test_the_stream_carries_new_notifications_and_heartbeats(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    user, fan = await Account.register(api), await Account.register(api)
    async with (
        httpx.AsyncClient(base_url=server.base_url, timeout=10) as streaming,
        streaming.stream("GET", "/api/notifications/stream", headers=user.headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
        async with asyncio.timeout(5):
            first = await anext(events)
        assert "connected" in first.comments
        async with asyncio.timeout(5):
            heartbeat = await anext(events)
        assert heartbeat.comments == ["heartbeat"], heartbeat
        await follow(api, fan, user)
        async with asyncio.timeout(5):
            while (event := await anext(events)).event is None:
                assert event.comments == ["heartbeat"], event
        await events.aclose()
    assert event.event == "new_notification"
    (data,) = event.data
    pushed = json.loads(data)
    assert pushed["type"] == "new_notification"
    assert pushed["data"]["kind"] == "new_follower"
    assert pushed["data"]["actor"] == {"username": fan.name}
    assert [pushed["data"]] == (await listed(api, user))["notifications"]


async def test_the_stream_ends_when_its_token_expires(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    user = await Account.register(api)
    token, expires = short_lived_copy(user.token, secret=JWT_SECRET, seconds=2)
    headers = {"Authorization": f"Token {token}"}
    async with (
        httpx.AsyncClient(base_url=server.base_url, timeout=10) as streaming,
        streaming.stream("GET", "/api/notifications/stream", headers=headers) as response,
    ):
        assert response.status_code == 200
        async with asyncio.timeout(6):
            received = [event async for event in sse_events(response)]
    assert abs(time.time() - expires) < 1.5, "the stream did not end at the token's expiry"
    assert received[-1].event == "expired", received[-3:]
    assert all(event.event is None for event in received[:-1]), received


# --- REST: ownership -----------------------------------------------------------------------


async def test_nobody_reads_or_marks_another_users_notifications(api: httpx.AsyncClient) -> None:
    owner, intruder = await Account.register(api), await Account.register(api)
    _, mine = await followed_by(api, owner, 2)
    _, theirs = await followed_by(api, intruder, 1)
    target = mine[0]["id"]

    stolen = await api.post(f"/api/notifications/{target}/read", headers=intruder.headers)
    assert stolen.status_code == 404
    assert stolen.json() == NOT_FOUND
    for bad in ("not-a-uuid", "12345", str(uuid.uuid4())):
        response = await api.post(f"/api/notifications/{bad}/read", headers=intruder.headers)
        assert response.status_code == 404, bad
        assert response.json() == NOT_FOUND
    assert all(item["readAt"] is None for item in (await listed(api, owner))["notifications"])

    intruder_ids = {item["id"] for item in (await listed(api, intruder))["notifications"]}
    assert intruder_ids == {theirs[0]["id"]}
    assert await unread_count(api, intruder) == 1
    assert await unread_count(api, owner) == 2

    marked = await api.post("/api/notifications/read-all", headers=intruder.headers)
    assert marked.status_code == 200
    assert marked.json() == {"marked": 1, "unreadCount": 0}
    assert await unread_count(api, intruder) == 0
    assert await unread_count(api, owner) == 2

    own = await api.post(f"/api/notifications/{target}/read", headers=owner.headers)
    assert own.status_code == 200
    assert own.json()["notification"]["id"] == target
    assert own.json()["notification"]["readAt"] is not None
    assert await unread_count(api, owner) == 1


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/notifications", None),
        ("GET", "/api/notifications/unread-count", None),
        ("POST", f"/api/notifications/{uuid.uuid4()}/read", None),
        ("POST", "/api/notifications/read-all", None),
        ("GET", "/api/notifications/preferences", None),
        ("PUT", "/api/notifications/preferences", {"preferences": {}}),
        ("GET", "/api/notifications/stream", None),
        ("POST", "/api/push/subscriptions", {"endpoint": "https://p.example/x", "keys": {}}),
        ("DELETE", "/api/push/subscriptions", {"endpoint": "https://p.example/x"}),
        ("GET", "/api/user/phone", None),
        ("PUT", "/api/user/phone", {"phone": "+14155550100"}),
        ("DELETE", "/api/user/phone", None),
        ("POST", "/api/user/phone/verify", {"code": "123456"}),
    ],
)
async def test_every_notification_route_needs_a_token(
    api: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = await api.request(method, path, json=body)
    assert response.status_code == 401, response.text
    assert response.json() == MISSING_TOKEN


# --- REST: behaviour -----------------------------------------------------------------------


async def test_pages_the_unread_filter_and_the_unread_count(api: httpx.AsyncClient) -> None:
    user = await Account.register(api)
    _, items = await followed_by(api, user, 5)
    assert [item["kind"] for item in items] == ["new_follower"] * 5
    created = [item["createdAt"] for item in items]
    assert created == sorted(created, reverse=True), "newest first"

    first = await listed(api, user, limit=2)
    second = await listed(api, user, limit=2, offset=2)
    past = await listed(api, user, limit=2, offset=10)
    assert first == {"notifications": items[:2], "notificationsCount": 5}
    assert second == {"notifications": items[2:4], "notificationsCount": 5}
    assert past == {"notifications": [], "notificationsCount": 5}
    for params, field in [
        ({"limit": 101}, "limit"),
        ({"limit": 1000}, "limit"),
        ({"limit": -1}, "limit"),
        ({"offset": -1}, "offset"),
    ]:
        response = await api.get("/api/notifications", params=params, headers=user.headers)
        assert response.status_code == 422, params
        assert list(response.json()["errors"]) == [field], response.json()

    assert await unread_count(api, user) == 5
    read = await api.post(f"/api/notifications/{items[1]['id']}/read", headers=user.headers)
    assert read.status_code == 200
    again = await api.post(f"/api/notifications/{items[1]['id']}/read", headers=user.headers)
    assert again.json()["notification"]["readAt"] == read.json()["notification"]["readAt"]
    assert await unread_count(api, user) == 4
    unread = await listed(api, user, unread="true")
    assert unread["notificationsCount"] == 4
    assert [item["id"] for item in unread["notifications"]] == [
        item["id"] for item in items if item["id"] != items[1]["id"]
    ]
    everything = await listed(api, user)
    assert everything["notificationsCount"] == 5

    marked = await api.post("/api/notifications/read-all", headers=user.headers)
    assert marked.json() == {"marked": 4, "unreadCount": 0}
    assert await unread_count(api, user) == 0
    assert (await listed(api, user, unread="true"))["notifications"] == []


async def test_preferences_list_every_kind_and_channel_and_keep_partial_changes(
    api: httpx.AsyncClient,
) -> None:
    user = await Account.register(api)
    response = await api.get("/api/notifications/preferences", headers=user.headers)
    assert response.status_code == 200
    defaults = response.json()["preferences"]
    assert set(defaults) == set(KINDS)
    for kind in KINDS:
        assert set(defaults[kind]) == set(CHANNELS), kind
        assert all(isinstance(on, bool) for on in defaults[kind].values())
        assert defaults[kind]["in_app"] is True, kind
    assert defaults["password_changed"] == dict.fromkeys(CHANNELS, True)
    assert defaults["new_follower"] == {"in_app": True, "email": True, "sms": False, "push": True}
    assert defaults["article_favorited"]["email"] is False

    change = {"preferences": {"new_comment": {"email": False, "sms": True}}}
    updated = await api.put("/api/notifications/preferences", json=change, headers=user.headers)
    assert updated.status_code == 200, updated.text
    expected = {**defaults, "new_comment": {**defaults["new_comment"], "email": False, "sms": True}}
    assert updated.json()["preferences"] == expected
    reread = await api.get("/api/notifications/preferences", headers=user.headers)
    assert reread.json()["preferences"] == expected

    for bad in [
        {"new_kind": {"email": True}},
        {"new_comment": {"carrier_pigeon": True}},
        {"password_changed": {"email": False}},
        {"new_login": {"email": False, "push": False}},
    ]:
        refused = await api.put(
            "/api/notifications/preferences", json={"preferences": bad}, headers=user.headers
        )
        assert refused.status_code == 422, (bad, refused.text)
        assert list(refused.json()["errors"]) == ["preferences"], refused.json()
    final = await api.get("/api/notifications/preferences", headers=user.headers)
    assert final.json()["preferences"] == expected, "a refused change changed something"


async def test_turning_off_in_app_hides_the_next_follow(
    api: httpx.AsyncClient, mail_dir: Path
) -> None:
    user, early, late = [await Account.register(api) for _ in range(3)]
    await verify_email(api, mail_dir, user)  # notification mail goes only to verified addresses
    await follow(api, early, user)
    await notifications_of(api, user, 1)
    change = {"preferences": {"new_follower": {"in_app": False}}}
    response = await api.put("/api/notifications/preferences", json=change, headers=user.headers)
    assert response.status_code == 200
    assert response.json()["preferences"]["new_follower"]["in_app"] is False
    await follow(api, late, user)
    # The email channel is still on: once its email is written, the notification exists.
    await email_to(mail_dir, user.email, f"{late.name} started following you")
    page = await listed(api, user)
    assert [item["actor"] for item in page["notifications"]] == [{"username": early.name}]
    assert page["notificationsCount"] == 1
    assert await unread_count(api, user) == 1


# --- REST: Web Push subscriptions ----------------------------------------------------------


async def test_push_subscriptions_are_checked_stored_and_removed(api: httpx.AsyncClient) -> None:
    key = await api.get("/api/push/vapid-public-key")
    assert key.status_code == 200
    assert key.json() == {"publicKey": None}

    user = await Account.register(api)
    keys = browser_keys()
    endpoint = f"https://push.example.com/send/{uuid.uuid4().hex}"
    subscription = {"endpoint": endpoint, "keys": keys, "expirationTime": None}
    created = await api.post("/api/push/subscriptions", json=subscription, headers=user.headers)
    assert created.status_code == 201, created.text
    assert created.json()["endpoint"] == endpoint
    assert created.json()["keys"] == keys
    again = await api.post("/api/push/subscriptions", json=subscription, headers=user.headers)
    assert again.status_code == 201, "subscribing again replaces"

    short_point = b64url(base64.urlsafe_b64decode(keys["p256dh"] + "==")[:33])
    for body, field in [
        ({"endpoint": "ftp://push.example.com/x", "keys": keys}, "endpoint"),
        ({"endpoint": "not a url", "keys": keys}, "endpoint"),
        ({"endpoint": "https://", "keys": keys}, "endpoint"),
        ({"endpoint": "https://" + "a" * 2048, "keys": keys}, "endpoint"),
        ({"endpoint": endpoint, "keys": {**keys, "p256dh": short_point}}, "p256dh"),
        ({"endpoint": endpoint, "keys": {**keys, "p256dh": "%%% not base64 %%%"}}, "p256dh"),
        ({"endpoint": endpoint, "keys": {**keys, "auth": b64url(os.urandom(8))}}, "auth"),
        ({"endpoint": endpoint, "keys": {**keys, "auth": "!!"}}, "auth"),
    ]:
        refused = await api.post("/api/push/subscriptions", json=body, headers=user.headers)
        assert refused.status_code == 422, (body, refused.text)
        assert list(refused.json()["errors"]) == [field], refused.json()

    for _ in range(2):  # present, then absent: both 204
        gone = await api.request(
            "DELETE", "/api/push/subscriptions", json={"endpoint": endpoint}, headers=user.headers
        )
        assert gone.status_code == 204, gone.text
    never = await api.request(
        "DELETE",
        "/api/push/subscriptions",
        json={"endpoint": "https://push.example.com/never"},
        headers=user.headers,
    )
    assert never.status_code == 204


async def test_a_malformed_endpoint_url_is_a_422_not_a_500(api: httpx.AsyncClient) -> None:
    user = await Account.register(api)
    malformed = {"endpoint": "https://[::1/push", "keys": browser_keys()}
    refused = await api.post("/api/push/subscriptions", json=malformed, headers=user.headers)
    assert refused.status_code == 422, (
        f"a malformed IPv6 endpoint is answered {refused.status_code} {refused.text}: "
        "urlsplit's ValueError escapes PushSubscription.create"
    )
    assert list(refused.json()["errors"]) == ["endpoint"]


# --- REST: phone number --------------------------------------------------------------------


async def test_a_phone_number_is_verified_by_the_code_it_was_texted(
    api: httpx.AsyncClient, sms_gateway: SmsGateway
) -> None:
    user = await Account.register(api)
    number = f"+1415{uuid.uuid4().int % 10_000_000:07d}"
    masked = number[:2] + "*" * (len(number) - 4) + number[-2:]

    for bad in ("12345", "0014155550100", "+1 415 call me", ""):
        refused = await api.put("/api/user/phone", json={"phone": bad}, headers=user.headers)
        assert refused.status_code == 422, (bad, refused.text)
        assert list(refused.json()["errors"]) == ["phone"], refused.json()
    assert (await api.get("/api/user/phone", headers=user.headers)).json() == {"phone": None}

    async def texted(count: int) -> str:
        async def probe() -> str | None:
            sent = sms_gateway.sent_to(number)
            return sent[-1].form["Body"] if len(sent) >= count else None

        body = await eventually(probe, what=f"SMS #{count} to {number}")
        found = re.search(r"\b(\d{6})\b", body)
        assert found, body
        return found.group(1)

    typed = number[:2] + " (" + number[2:5] + ") " + number[5:8] + "-" + number[8:]
    given = await api.put("/api/user/phone", json={"phone": typed}, headers=user.headers)
    assert given.status_code == 200, given.text
    assert given.json() == {"phone": {"number": masked, "verified": False}}
    code = await texted(1)
    (sms,) = sms_gateway.sent_to(number)
    assert sms.path == f"/2010-04-01/Accounts/{SMS_ACCOUNT}/Messages.json"
    assert sms.form["From"] == SMS_FROM
    basic = base64.b64encode(f"{SMS_ACCOUNT}:{SMS_TOKEN}".encode()).decode()
    assert sms.authorization == f"Basic {basic}"

    wrong = "000000" if code != "000000" else "111111"
    for attempt in range(5):
        refused = await api.post(
            "/api/user/phone/verify", json={"code": wrong}, headers=user.headers
        )
        assert refused.status_code == 422, attempt
        assert refused.json() == {"errors": {"code": ["is invalid"]}}
    used_up = await api.post("/api/user/phone/verify", json={"code": code}, headers=user.headers)
    assert used_up.status_code == 422
    assert used_up.json() == {"errors": {"code": ["has expired; request a new one"]}}
    assert (await api.get("/api/user/phone", headers=user.headers)).json() == {
        "phone": {"number": masked, "verified": False}
    }

    resent = await api.put("/api/user/phone", json={"phone": number}, headers=user.headers)
    assert resent.json() == {"phone": {"number": masked, "verified": False}}
    fresh = await texted(2)
    verified = await api.post("/api/user/phone/verify", json={"code": fresh}, headers=user.headers)
    assert verified.status_code == 200, verified.text
    assert verified.json() == {"phone": {"number": masked, "verified": True}}
    assert (await api.get("/api/user/phone", headers=user.headers)).json() == {
        "phone": {"number": masked, "verified": True}
    }

    removed = await api.delete("/api/user/phone", headers=user.headers)
    assert removed.status_code == 204
    assert (await api.get("/api/user/phone", headers=user.headers)).json() == {"phone": None}
    assert (await api.delete("/api/user/phone", headers=user.headers)).status_code == 204
    nothing = await api.post("/api/user/phone/verify", json={"code": fresh}, headers=user.headers)
    assert nothing.status_code == 404
    assert nothing.json() == {"errors": {"phone": ["not found"]}}
