"""The server the hostile-input e2e tests attack, and the raw requests they send it.

`hostile_env` configures `portico serve` for the hostile pass: CORS for one origin, a
trusted proxy, rate limits out of the way. `nothing_logged_as_failed` checks that the
server logged no 5xx, no error and no traceback while a test ran. `raw_request` and
`raw_get` send bytes no HTTP client library would.
"""

import re
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.support.live_clients import server_failures
from tests.support.server import RunningServer, clean_env

JWT_SECRET = "e2e-hostile-inputs-secret-0123456789abcdef"
ALLOWED_ORIGIN = "https://app.example.com"
PASSWORD = "password123"
NUL_MESSAGE = "may not contain the NUL character"
INVALID_TOKEN = {"errors": {"token": ["is invalid"]}}
NOT_UTF8 = (b"\xff", b"\xc0\x80", b"\xed\xa0\x80")
"""A byte no UTF-8 has, an overlong NUL, and a UTF-16 surrogate encoded as UTF-8."""
HUGE = 10**30
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def hostile_env(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
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


def register(api: httpx.Client) -> tuple[str, str]:
    name = f"h{uuid.uuid4().hex[:12]}"
    body = {"user": {"username": name, "email": f"{name}@test.com", "password": PASSWORD}}
    created = api.post("/api/users", json=body)
    assert created.status_code == 201, created.text
    return name, str(created.json()["user"]["token"])


@contextmanager
def nothing_logged_as_failed(server: RunningServer) -> Iterator[None]:
    """No 5xx, no error and no traceback in what the server logged while the block ran."""
    logged_before = len(server.log())
    yield
    time.sleep(0.1)  # the last access line is written just after its response
    failures = server_failures(server.log()[logged_before:])
    assert not failures, "the server logged failures:\n" + "\n".join(failures[:40])


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
