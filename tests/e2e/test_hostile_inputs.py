"""Hostile input against `portico serve`: every answer a 4xx in the envelope, never a 500.

Issue 17's hostile pass, as tests: bodies that are not UTF-8, NUL in any text, access tokens
with time claims no datetime holds, broken percent-encoding, odd bytes in headers, huge
numbers, deep nesting, duplicate keys and WebSocket frames of each kind. After each test, a
fixture checks that the server logged no 5xx, no error and no traceback meanwhile.

Some bytes never reach Portico: granian refuses a control character in a header, and a raw
byte above 0x7f in the path or query, with a bare 400 of its own, and closes a socket whose
text frame is not UTF-8. Those cases are here too, to show they stay 4xx and quiet.
"""

import base64
import os
import re
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus
from websockets.frames import Frame, Opcode

from tests.support.live_clients import (
    authenticate,
    closed_with,
    next_message,
    open_socket,
    send_json,
    server_failures,
)
from tests.support.network import free_port
from tests.support.server import RunningServer, clean_env, portico_server, run_portico

pytestmark = pytest.mark.e2e

JWT_SECRET = "e2e-hostile-inputs-secret-0123456789abcdef"
ALLOWED_ORIGIN = "https://app.example.com"
PASSWORD = "password123"
NUL_MESSAGE = "may not contain the NUL character"
INVALID_TOKEN = {"errors": {"token": ["is invalid"]}}
NOT_UTF8 = (b"\xff", b"\xc0\x80", b"\xed\xa0\x80")
"""A byte no UTF-8 has, an overlong NUL, and a UTF-16 surrogate encoded as UTF-8."""
HUGE = 10**30
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@pytest.fixture(scope="module")
def env(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return clean_env(
        DATABASE_URL=migrated_url,
        DATA_DIR=str(tmp_path_factory.mktemp("hostile-data")),
        JWT_SECRET=JWT_SECRET,
        CORS_ALLOWED_ORIGINS=ALLOWED_ORIGIN,
        TRUSTED_PROXIES="127.0.0.1",
        WS_MAX_UNAUTHENTICATED="10",  # the first-message path is hostile ground too
        RATE_LIMIT_AUTH_PER_IP="100000",
        RATE_LIMIT_REGISTRATIONS_PER_IP="100000",
        RATE_LIMIT_ARTICLES_PER_USER="100000",
        RATE_LIMIT_COMMENTS_PER_USER="100000",
        RATE_LIMIT_PASSWORD_RESETS="100000",
        RATE_LIMIT_PHONE_CODES="100000",
        RATE_LIMIT_PHONE_CODES_PER_IP="100000",
        WS_MESSAGES_PER_MINUTE="100000",
        PUSH_ALLOW_LOCAL_ENDPOINTS="true",  # push.example.com does not resolve offline
    )


@pytest.fixture(scope="module")
def server(
    env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    with portico_server(free_port(), env, tmp_path_factory.mktemp("hostile")) as running:
        yield running


@pytest.fixture(scope="module")
def api(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def register(api: httpx.Client) -> tuple[str, str]:
    name = f"h{uuid.uuid4().hex[:12]}"
    body = {"user": {"username": name, "email": f"{name}@test.com", "password": PASSWORD}}
    created = api.post("/api/users", json=body)
    assert created.status_code == 201, created.text
    return name, str(created.json()["user"]["token"])


@pytest.fixture(scope="module")
def admin(
    api: httpx.Client, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, dict[str, str]]:
    """An administrator, so that every route with a body reads it, the admin routes too."""
    name, _ = register(api)
    promoted = run_portico(
        "users", "set-role", name, "admin", env=env, cwd=tmp_path_factory.mktemp("cli")
    )
    assert promoted.returncode == 0, promoted.stderr
    login = {"user": {"email": f"{name}@test.com", "password": PASSWORD}}
    signed_in = api.post("/api/users/login", json=login)
    assert signed_in.status_code == 200, signed_in.text
    return name, {"Authorization": f"Token {signed_in.json()['user']['token']}"}


@pytest.fixture(scope="module")
def slug(api: httpx.Client, admin: tuple[str, dict[str, str]]) -> str:
    article = {"article": {"title": "Hostile ground", "description": "d", "body": "b"}}
    published = api.post("/api/articles", json=article, headers=admin[1])
    assert published.status_code == 201, published.text
    return str(published.json()["article"]["slug"])


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(autouse=True)
def nothing_failed_meanwhile(server: RunningServer) -> Iterator[None]:
    """After each test: no 5xx, no error and no traceback in what the server logged for it."""
    logged_before = len(server.log())
    yield
    time.sleep(0.1)  # the last access line is written just after its response
    failures = server_failures(server.log()[logged_before:])
    assert not failures, "the server logged failures:\n" + "\n".join(failures[:40])


def routes_with_a_body(api: httpx.Client, username: str, slug: str) -> list[tuple[str, str]]:
    """Every operation the OpenAPI document gives a request body, its path filled in."""
    document = api.get("/schema/openapi.json").json()
    routes = []
    for template, operations in document["paths"].items():
        path = template.replace("{username}", username).replace("{slug}", slug)
        for method, operation in operations.items():
            if isinstance(operation, dict) and "requestBody" in operation:
                assert "{" not in path, f"a path parameter to fill in: {template}"
                routes.append((method.upper(), path))
    assert len(routes) >= 18, routes
    return routes


def answers_to_body(
    api: httpx.Client, routes: list[tuple[str, str]], body: bytes, headers: dict[str, str]
) -> dict[tuple[str, str], tuple[int, Any]]:
    sent = {**headers, "Content-Type": "application/json"}
    answers = {}
    for method, path in routes:
        response = api.request(method, path, content=body, headers=sent)
        answers[method, path] = (response.status_code, response.json())
    return answers


def raw_request(server: RunningServer, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes no HTTP client library would; the status, headers and body of the answer."""
    port = int(server.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split(" ")[1]), headers, body


def raw_get(server: RunningServer, target: bytes, *header_lines: bytes) -> tuple[int, Any]:
    request = b"GET " + target + b" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
    status, _, body = raw_request(
        server, request + b"".join(h + b"\r\n" for h in header_lines) + b"\r\n"
    )
    return status, body


# --- bodies -------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", NOT_UTF8, ids=["ff", "overlong-nul", "surrogate"])
def test_a_body_that_is_not_utf8_is_400_on_every_route_with_a_body(
    server: RunningServer,
    api: httpx.Client,
    admin: tuple[str, dict[str, str]],
    slug: str,
    bad: bytes,
) -> None:
    routes = routes_with_a_body(api, admin[0], slug)
    body = b'{"article": {"title": "' + bad + b'"}}'
    answers = answers_to_body(api, routes, body, admin[1])
    expected = (400, {"errors": {"body": ["is not valid UTF-8"]}})
    assert {route: answer for route, answer in answers.items() if answer != expected} == {}


def test_nul_anywhere_in_a_body_is_422_naming_the_field_on_every_route(
    server: RunningServer, api: httpx.Client, admin: tuple[str, dict[str, str]], slug: str
) -> None:
    routes = routes_with_a_body(api, admin[0], slug)
    answers = answers_to_body(api, routes, b'{"anything": "a\\u0000b"}', admin[1])
    expected = (422, {"errors": {"anything": [NUL_MESSAGE]}})
    assert {route: answer for route, answer in answers.items() if answer != expected} == {}


NUL_IN_A_FIELD = {
    "push-unsubscribe": (
        "DELETE /api/push/subscriptions",
        {"endpoint": "https://push.example.com/\x00"},
        "endpoint",
    ),
    "push-key": (
        "POST /api/push/subscriptions",
        {"endpoint": "https://push.example.com/a", "keys": {"p256dh": "\x00", "auth": "x"}},
        "p256dh",
    ),
    "bio": ("PUT /api/user", {"user": {"bio": "a\x00b"}}, "bio"),
    "tag-in-a-list": (
        "POST /api/articles",
        {"article": {"title": "t", "description": "d", "body": "b", "tagList": ["ok", "n\x00"]}},
        "tagList",
    ),
    "key-of-a-map": (
        "PUT /api/notifications/preferences",
        {"preferences": {"new_follower\x00": {"email": True}}},
        "preferences",
    ),
    "login": (
        "POST /api/users/login",
        {"user": {"email": "a\x00@test.com", "password": PASSWORD}},
        "email",
    ),
}


@pytest.mark.parametrize("case", NUL_IN_A_FIELD.values(), ids=NUL_IN_A_FIELD.keys())
def test_nul_in_a_text_field_is_422_naming_the_field(
    server: RunningServer,
    api: httpx.Client,
    admin: tuple[str, dict[str, str]],
    case: tuple[str, dict[str, Any], str],
) -> None:
    route, body, field = case
    method, path = route.split(" ")
    response = api.request(method, path, json=body, headers=admin[1])
    assert (response.status_code, response.json()) == (422, {"errors": {field: [NUL_MESSAGE]}})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 500_000, "is nested too deeply"),
        (b'{"article": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", "is nested too deeply"),
        (b'{"article": {"title": 1e400}}', "has a number out of range"),
        (b'{"article": {"title": "t"', "is not valid JSON"),
    ],
    ids=["half-a-million-brackets", "deep-inside-a-field", "1e400", "truncated"],
)
def test_a_body_no_decoder_can_hold_is_400(
    server: RunningServer,
    api: httpx.Client,
    admin: tuple[str, dict[str, str]],
    body: bytes,
    message: str,
) -> None:
    headers = {**admin[1], "Content-Type": "application/json"}
    response = api.post("/api/articles", content=body, headers=headers)
    assert (response.status_code, response.json()) == (400, {"errors": {"body": [message]}})


def test_a_huge_integer_in_a_json_number_field_is_held_exactly(
    server: RunningServer, api: httpx.Client, admin: tuple[str, dict[str, str]]
) -> None:
    keys = {"p256dh": b64url(b"\x04" + os.urandom(64)), "auth": b64url(os.urandom(16))}
    for number in (HUGE, -HUGE, 2**64):
        body = {"endpoint": "https://push.example.com/x", "keys": keys, "expirationTime": number}
        response = api.post("/api/push/subscriptions", json=body, headers=admin[1])
        assert response.status_code == 201, response.text
        assert response.json()["expirationTime"] == number


def test_a_key_named_twice_keeps_the_last_value(server: RunningServer, api: httpx.Client) -> None:
    _, token = register(api)
    body = b'{"user": {"bio": "first", "bio": "last"}}'
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    response = api.put("/api/user", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["user"]["bio"] == "last"


# --- path and query -------------------------------------------------------------------------


def test_nul_in_a_path_parameter_is_422_naming_it(
    server: RunningServer, api: httpx.Client, admin: tuple[str, dict[str, str]], slug: str
) -> None:
    cases = [
        ("GET", "/api/profiles/%00", "username"),
        ("POST", "/api/profiles/a%00b/follow", "username"),
        ("GET", "/api/articles/a%00", "slug"),
        ("GET", "/api/articles/a%00/comments", "slug"),
        ("DELETE", f"/api/articles/{slug}%00/comments/1", "slug"),
        ("POST", "/api/notifications/%00/read", "notification_id"),
        ("PUT", "/api/admin/users/%00/role", "username"),
    ]
    for method, path, name in cases:
        response = api.request(
            method, path, headers=admin[1], json={"role": "user"} if method == "PUT" else None
        )
        assert (response.status_code, response.json()) == (
            422,
            {"errors": {name: [NUL_MESSAGE]}},
        ), (method, path)


def test_nul_in_a_query_is_422_naming_the_parameter(
    server: RunningServer, api: httpx.Client, admin: tuple[str, dict[str, str]]
) -> None:
    cases = [
        ("/api/articles?tag=%00", "tag"),
        ("/api/articles?author=a%00b", "author"),
        ("/api/articles?favorited=%00", "favorited"),
        ("/api/articles?limit=1%00", "limit"),
        ("/api/articles/feed?offset=%00", "offset"),
        ("/api/notifications?unread=%00", "unread"),
        ("/api/articles?tag=ok&x%00=1", "query"),
    ]
    for target, name in cases:
        response = api.get(target, headers=admin[1])
        assert (response.status_code, response.json()) == (
            422,
            {"errors": {name: [NUL_MESSAGE]}},
        ), target


@pytest.mark.parametrize(
    ("target", "part", "message"),
    [
        (b"/api/articles?tag=%ff", "query", "is not valid UTF-8"),
        (b"/api/articles?tag=%e2%82", "query", "is not valid UTF-8"),
        (b"/api/articles?tag=%ed%a0%80", "query", "is not valid UTF-8"),
        (b"/api/articles?tag=%", "query", "is not valid percent-encoding"),
        (b"/api/articles?tag=%zz", "query", "is not valid percent-encoding"),
        (b"/api/profiles/%ff", "path", "is not valid UTF-8"),
        (b"/api/profiles/%", "path", "is not valid percent-encoding"),
    ],
)
def test_broken_percent_encoding_is_400(
    server: RunningServer, target: bytes, part: str, message: str
) -> None:
    status, body = raw_get(server, target)
    assert (status, httpx.Response(status, content=body).json()) == (
        400,
        {"errors": {part: [message]}},
    )


@pytest.mark.parametrize(
    "target", [b"/api/articles?tag=\xff", b"/api/profiles/\xff", b"/api/articles?tag=a\x00b"]
)
def test_raw_bytes_in_the_target_are_refused_by_the_server_before_the_app(
    server: RunningServer, target: bytes
) -> None:
    status, _ = raw_get(server, target)
    assert status == 400


@pytest.mark.parametrize(
    "target",
    [
        f"/api/articles?limit={HUGE}",
        f"/api/articles?offset={HUGE}",
        f"/api/articles?limit=-{HUGE}",
        "/api/articles?limit=1e400",
        f"/api/articles/feed?offset={HUGE}",
        f"/api/notifications?limit={HUGE}",
        f"/api/notifications?offset={2**63}",
    ],
)
def test_a_huge_number_in_the_query_is_422(
    server: RunningServer, api: httpx.Client, admin: tuple[str, dict[str, str]], target: str
) -> None:
    response = api.get(target, headers=admin[1])
    assert response.status_code == 422, response.text
    name = target.split("?")[1].split("=", maxsplit=1)[0]
    assert list(response.json()["errors"]) == [name]


def test_a_huge_id_in_the_path_is_not_found(
    server: RunningServer, api: httpx.Client, admin: tuple[str, dict[str, str]], slug: str
) -> None:
    for comment_id in (HUGE, 2**63, -(2**63) - 1):
        response = api.delete(f"/api/articles/{slug}/comments/{comment_id}", headers=admin[1])
        assert (response.status_code, response.json()) == (
            404,
            {"errors": {"comment": ["not found"]}},
        )
    response = api.post(f"/api/notifications/{HUGE}/read", headers=admin[1])
    assert (response.status_code, response.json()) == (
        404,
        {"errors": {"notification": ["not found"]}},
    )
    assert api.delete(f"/api/auth/sessions/{HUGE}", headers=admin[1]).status_code == 404


# --- access tokens --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": HUGE},
        {"exp": 253_402_300_800},  # 10000-01-01
        {"exp": 1e300},
        {"exp": time.time() + 600},
        {"exp": "tomorrow"},
        {"iat": 1.5},
        {"iat": HUGE},
        {"iat": -1},
        {"nbf": HUGE},
        {"nbf": 1.5},
        {"nbf": "now"},
    ],
    ids=str,
)
def test_a_token_with_a_malformed_time_claim_is_401(
    server: RunningServer, api: httpx.Client, claims: dict[str, object]
) -> None:
    _, token = register(api)
    original = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(original | claims, JWT_SECRET, algorithm="HS256")
    for _ in range(2):  # the second read would come from the cache of verified tokens
        response = api.get("/api/user", headers={"Authorization": f"Token {forged}"})
        assert (response.status_code, response.json()) == (401, INVALID_TOKEN)
    re_signed = jwt.encode(original, JWT_SECRET, algorithm="HS256")
    assert api.get("/api/user", headers={"Authorization": f"Token {re_signed}"}).status_code == 200


# --- headers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [b"Token \xff\xfe", "Bearer \u00e9t\u00e9".encode(), b"Token a.b.c\x80"]
)
def test_an_authorization_header_that_is_not_ascii_is_401(
    server: RunningServer, value: bytes
) -> None:
    status, body = raw_get(server, b"/api/user", b"Authorization: " + value)
    assert (status, httpx.Response(status, content=body).json()) == (401, INVALID_TOKEN)


@pytest.mark.parametrize(
    "header",
    [b"X-Forwarded-For: \xff\xfe", b"X-Forwarded-For: 1.2.3.4, \xc3\xa9", b"X-Forwarded-For: ::::"],
)
def test_a_forwarded_for_that_is_no_address_is_ignored(
    server: RunningServer, header: bytes
) -> None:
    status, body = raw_get(server, b"/api/articles", header)
    assert status == 200, body


def test_an_origin_that_is_not_ascii_gets_no_cors_headers(server: RunningServer) -> None:
    origin = b"Origin: https://\xff\xfe.example.com"
    status, headers, _ = raw_request(
        server,
        b"GET /api/articles HTTP/1.1\r\nHost: test\r\nConnection: close\r\n" + origin + b"\r\n\r\n",
    )
    assert status == 200
    assert "access-control-allow-origin" not in headers
    preflight = (
        b"OPTIONS /api/articles HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
        + origin
        + b"\r\nAccess-Control-Request-Method: POST\r\n\r\n"
    )
    status, headers, _ = raw_request(server, preflight)
    assert 200 <= status < 500
    assert "access-control-allow-origin" not in headers


def test_a_refresh_cookie_that_is_not_ascii_is_401(server: RunningServer) -> None:
    request = (
        b"POST /api/auth/refresh HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
        b"Content-Length: 0\r\nCookie: refresh_token=\xff\xfe%00; other=\xc3\xa9\r\n\r\n"
    )
    status, _, body = raw_request(server, request)
    assert status == 401, body
    assert httpx.Response(status, content=body).json()["errors"]


def test_a_request_id_that_is_not_ascii_is_replaced(server: RunningServer) -> None:
    request = (
        b"GET /api/articles HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
        b"X-Request-Id: \xff\xfe\xc3\xa9\r\n\r\n"
    )
    status, headers, _ = raw_request(server, request)
    assert status == 200
    assert REQUEST_ID.match(headers["x-request-id"]), headers["x-request-id"]


@pytest.mark.parametrize(
    "header",
    [
        b"Authorization: Token a\x01b",
        b"X-Forwarded-For: 1.2.3.4\x00",
        b"Origin: https://a\x07.example.com",
        b"Cookie: refresh_token=\x01",
        b"X-Request-Id: abc\x1b[31m",
    ],
)
def test_control_characters_in_a_header_are_refused_by_the_server_before_the_app(
    server: RunningServer, header: bytes
) -> None:
    status, _ = raw_get(server, b"/api/articles", header)
    assert status == 400


# --- WebSocket ------------------------------------------------------------------------------


async def _ticketed(server: RunningServer, api: httpx.Client) -> ClientConnection:
    _, token = register(api)
    ws, _ = await authenticate(server.base_url, token, ticket=True)
    return ws


async def test_a_binary_frame_that_is_not_utf8_is_an_error_and_the_socket_stays(
    server: RunningServer, api: httpx.Client
) -> None:
    ws = await _ticketed(server, api)
    for bad in NOT_UTF8:
        await ws.send(b'{"type": "ping", "id": "' + bad + b'"}')
        error = await next_message(ws, "error")
        assert error["error"] == {"code": "bad_request", "message": "message is not valid UTF-8"}
    await send_json(ws, {"type": "ping", "id": "still-there"})
    assert (await next_message(ws, "pong"))["id"] == "still-there"
    await ws.close()


async def test_a_text_frame_that_is_not_utf8_is_closed_by_the_server(
    server: RunningServer, api: httpx.Client
) -> None:
    ws = await _ticketed(server, api)
    ws.protocol.send_frame(Frame(Opcode.TEXT, b'{"type": "ping", "id": "\xff"}'))
    ws.transport.write(b"".join(ws.protocol.data_to_send()))
    code, reason = await closed_with(ws)
    assert code in {1005, 1007}, reason  # granian closes without a code; RFC 6455 says 1007


@pytest.mark.parametrize(
    ("message", "code", "text"),
    [
        ('{"type": "ping", "id": "a\\u0000"}', "id", NUL_MESSAGE),
        ('{"type": "mark_read", "ids": ["\\u0000"]}', "ids", NUL_MESSAGE),
        (
            '{"type": "ping", "x": ' + "[" * 3_000 + "]" * 3_000 + "}",
            "bad_request",
            "message is nested too deeply",
        ),
        ("[" * 8_000, "bad_request", "message is nested too deeply"),
        (
            '{"type": "get_notifications", "limit": 1e400}',
            "bad_request",
            "message has a number out of range",
        ),
        (f'{{"type": "get_notifications", "limit": {HUGE}}}', "limit", "must be between 0 and 100"),
        (
            f'{{"type": "get_notifications", "offset": {HUGE}}}',
            "offset",
            "must be between 0 and 1000000",
        ),
    ],
    ids=[
        "nul-in-id",
        "nul-in-ids",
        "deep-in-a-field",
        "deep",
        "1e400",
        "huge-limit",
        "huge-offset",
    ],
)
async def test_a_hostile_message_is_an_error_and_the_socket_stays(
    server: RunningServer, api: httpx.Client, message: str, code: str, text: str
) -> None:
    ws = await _ticketed(server, api)
    await ws.send(message)
    error = await next_message(ws, "error")
    assert error["error"] == {"code": code, "message": text}
    await send_json(ws, {"type": "ping", "id": "still-there"})
    assert (await next_message(ws, "pong"))["id"] == "still-there"
    await ws.close()


@pytest.mark.parametrize(
    "first",
    [
        b'{"type": "auth", "token": "\xff"}',
        '{"type": "auth", "token": "a\\u0000"}',
        '{"type": "auth", "pad": ' + "[" * 3_000 + "]" * 3_000 + "}",
    ],
    ids=["not-utf8", "nul", "deep"],
)
async def test_a_hostile_first_message_closes_4401(
    server: RunningServer, first: str | bytes
) -> None:
    ws = await open_socket(server.base_url)
    await ws.send(first)
    code, reason = await closed_with(ws)
    assert code == 4401, reason


@pytest.mark.parametrize("ticket", ["%00", "%ff", "%", "a%00b" * 100])
async def test_a_hostile_ticket_is_refused_in_the_handshake(
    server: RunningServer, ticket: str
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await open_socket(server.base_url, query=f"?ticket={ticket}")
    assert refused.value.response.status_code == 403
