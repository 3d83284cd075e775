"""`portico serve` as a real subprocess: health, request ids, errors, limits and shutdown."""

import json
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.network import free_port
from tests.support.server import RunningServer, clean_env, portico_server

pytestmark = pytest.mark.e2e

BODY_LIMIT = 2048


@pytest.fixture(scope="module")
def server(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    cwd = tmp_path_factory.mktemp("serve")
    env = clean_env(
        DATABASE_URL=migrated_url, LOG_FORMAT="json", MAX_REQUEST_BODY_BYTES=str(BODY_LIMIT)
    )
    with portico_server(free_port(), env, cwd) as running:
        yield running


def get(server: RunningServer, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(f"{server.base_url}{path}", timeout=5, **kwargs)  # type: ignore[arg-type]


def test_liveness_and_readiness(server: RunningServer) -> None:
    assert get(server, "/health/live").json() == {"status": "ok"}
    ready = get(server, "/health/ready")
    assert ready.status_code == 200
    assert ready.json()["dependencies"]["database"]["status"] == "up"


def test_the_request_id_is_echoed_or_generated(server: RunningServer) -> None:
    assert (
        get(server, "/health/live", headers={"X-Request-ID": "e2e-42"}).headers["x-request-id"]
        == "e2e-42"
    )
    generated = get(server, "/health/live").headers["x-request-id"]
    assert len(generated) == 32


def test_the_openapi_document_and_the_reference_ui(server: RunningServer) -> None:
    document = get(server, "/schema/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert "/health/ready" in document["paths"]
    ui = get(server, "/docs")
    assert ui.status_code == 200
    assert "text/html" in ui.headers["content-type"]


def raw_request(server: RunningServer, request: bytes) -> tuple[int, bytes]:
    """Send bytes as they are, for requests no well-behaved client library would send."""
    port = int(server.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
            if b"\r\n\r\n" in response:
                head, _, body = response.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    None,
                )
                if length is not None and len(body) >= length:
                    break
    status = int(response.split(b" ", 2)[1])
    return status, response.partition(b"\r\n\r\n")[2]


MALFORMED = [
    pytest.param(b"GET /no/such/route HTTP/1.1\r\nHost: x\r\n\r\n", 404, id="unknown-route"),
    pytest.param(
        b"POST /health/live HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 9\r\n\r\n{broken:}",
        405,
        id="broken-json-to-a-read-only-route",
    ),
    pytest.param(
        b"POST /health/ready HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 5\r\n\r\nhello",
        415,
        id="wrong-content-type",
    ),
    pytest.param(
        b"POST /health/ready HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded"
        b"\r\nContent-Length: 3\r\n\r\na=b",
        415,
        id="form-post",
    ),
    pytest.param(
        b"POST /health/live HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 999999999\r\n\r\n{}",
        413,
        id="oversize-declared",
    ),
    pytest.param(
        b"PUT /health/live HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 2\r\n\r\n{}",
        405,
        id="wrong-method",
    ),
    pytest.param(b"GET /health/%ZZ HTTP/1.1\r\nHost: x\r\n\r\n", 404, id="bad-percent-escape"),
    pytest.param(b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404, id="path-traversal"),
    pytest.param(
        b"GET /schema/openapi.json/%00 HTTP/1.1\r\nHost: x\r\n\r\n", 404, id="null-byte-path"
    ),
    pytest.param(b"GET /schema/nothing-here HTTP/1.1\r\nHost: x\r\n\r\n", 404, id="schema-404"),
    pytest.param(
        b"DELETE /health/ready HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 12\r\n\r\n\xff\xfe\xfd not utf8",
        405,
        id="binary-garbage-body",
    ),
]


@pytest.mark.parametrize(("request_bytes", "expected_status"), MALFORMED)
def test_malformed_requests_get_a_4xx_in_the_envelope(
    server: RunningServer, request_bytes: bytes, expected_status: int
) -> None:
    status, body = raw_request(server, request_bytes)
    assert status == expected_status, body
    errors = json.loads(body)["errors"]
    assert errors
    assert all(isinstance(messages, list) for messages in errors.values())


def test_an_oversize_body_gets_413_in_the_envelope(server: RunningServer) -> None:
    response = httpx.post(
        f"{server.base_url}/health/ready",
        content=b"{" + b" " * BODY_LIMIT + b"}",
        headers={"content-type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 413
    assert response.json() == {
        "errors": {"body": [f"is too large; the limit is {BODY_LIMIT} bytes"]}
    }


def test_access_lines_are_json_with_method_path_status_duration_and_id(
    server: RunningServer,
) -> None:
    get(server, "/health/live", headers={"X-Request-ID": "access-check"})
    access = [
        json.loads(line)
        for line in server.log().splitlines()
        if line.startswith("{") and '"portico.access"' in line
    ]
    mine = [a for a in access if a["request_id"] == "access-check"]
    assert mine, server.log()
    extra = mine[-1]["extra"]
    assert (extra["method"], extra["path"], extra["status"]) == ("GET", "/health/live", 200)
    assert extra["duration_ms"] >= 0


def test_no_request_ever_got_a_500(server: RunningServer) -> None:
    assert '"status":500' not in server.log().replace(" ", "")


def test_sigterm_drains_and_exits_zero(migrated_url: str, tmp_path: Path) -> None:
    env = clean_env(DATABASE_URL=migrated_url)
    with portico_server(free_port(), env, tmp_path) as running:
        code, seconds = running.stop(signal.SIGTERM)
    assert code == 0, running.log()
    assert seconds < 10


async def test_uvicorn_serves_the_same_app_and_closes_live_sockets_on_stop(
    migrated_url: str, tmp_path: Path
) -> None:
    from tests.support.live_clients import (  # noqa: PLC0415 - only this test speaks /ws
        Account,
        authenticate,
        closed_with,
        server_failures,
    )

    env = clean_env(DATABASE_URL=migrated_url, APP_SERVER="uvicorn")
    with portico_server(free_port(), env, tmp_path) as running:
        async with httpx.AsyncClient(base_url=running.base_url, timeout=10) as api:
            assert (await api.get("/health/ready")).status_code == 200
            user = await Account.register(api)
        ws, ok = await authenticate(running.base_url, user.token, ticket=True)
        assert ok["type"] == "auth_ok"
        code, took = running.stop(signal.SIGTERM)
        closed, reason = await closed_with(ws)
        log = running.log()
    assert code == 0, log
    assert took < 10, log
    assert closed in {1001, 1012}, (closed, reason)
    assert not server_failures(log), log
    assert "uvicorn" in log
