"""Notifications over the WebSocket protocol of `portico serve` on PostgreSQL.

Authentication, requests and their errors, size and idle limits, the token's lifetime,
pushes to every socket of a user and the cap on connections per user, all against one
`protocol_server` (short timeouts, at most 3 connections per user) that may log no 5xx,
no error and no traceback.
"""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import jwt
import pytest

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
    send_json,
    short_lived_copy,
    sse_events,
)
from tests.support.notifications_protocol import (
    AUTH_TIMEOUT,
    HEARTBEAT,
    IDLE_TIMEOUT,
    JWT_SECRET,
    MAX_CONNECTIONS,
    MAX_MESSAGE_BYTES,
    MISSING_TOKEN,
    follow,
    followed_by,
    iso,
    listed,
    protocol_server,
    token_expiry,
    unread_count,
)
from tests.support.server import RunningServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    mail_dir = tmp_path_factory.mktemp("notifications-mail")
    with (
        SmsGateway().running() as sms_gateway,
        protocol_server(migrated_url, sms_gateway, mail_dir, tmp_path_factory) as running,
    ):
        yield running


@pytest.fixture
async def api(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        yield client


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
