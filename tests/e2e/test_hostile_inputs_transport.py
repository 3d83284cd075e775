"""Hostile access tokens, headers and WebSocket frames against `portico serve`: every answer
a 4xx in the envelope, or a close, never a 500.

Issue 17's hostile pass, as tests: access tokens with time claims no datetime holds, odd
bytes in headers, and WebSocket frames of each kind. After each test, a fixture checks that
the server logged no 5xx, no error and no traceback meanwhile.

Some bytes never reach Portico: granian refuses a control character in a header with a bare
400 of its own, and closes a socket whose text frame is not UTF-8. Those cases are here too,
to show they stay 4xx and quiet.
"""

import time
from collections.abc import Iterator

import httpx
import jwt
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus
from websockets.frames import Frame, Opcode

from tests.support.hostile_inputs import (
    HUGE,
    INVALID_TOKEN,
    JWT_SECRET,
    NOT_UTF8,
    NUL_MESSAGE,
    REQUEST_ID,
    hostile_env,
    nothing_logged_as_failed,
    raw_get,
    raw_request,
    register,
)
from tests.support.live_clients import (
    authenticate,
    closed_with,
    next_message,
    open_socket,
    send_json,
)
from tests.support.network import free_port
from tests.support.server import RunningServer, portico_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def env(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return hostile_env(migrated_url, tmp_path_factory)


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


@pytest.fixture(autouse=True)
def nothing_failed_meanwhile(server: RunningServer) -> Iterator[None]:
    """After each test: no 5xx, no error and no traceback in what the server logged for it."""
    with nothing_logged_as_failed(server):
        yield


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
