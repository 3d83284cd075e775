"""A push subscription cannot point the worker inside, against `portico serve` (issue 25).

The server runs as in production, without PUSH_ALLOW_LOCAL_ENDPOINTS. Its allowlist adds
two names to a push service: `localhost`, to show that an allowed name resolving to a
loopback address is refused by the real resolver, and a name under `.invalid` (RFC 6761),
which never resolves, online or not.
"""

import base64
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.network import free_port
from tests.support.server import RunningServer, clean_env, portico_server, run_portico

pytestmark = pytest.mark.e2e

UNRESOLVABLE = "push.portico-test.invalid"
ALLOWED_HOSTS = f"fcm.googleapis.com, *.push.apple.com, localhost, {UNRESOLVABLE}"


@pytest.fixture(scope="module")
def server(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = clean_env(
        DATABASE_URL=migrated_url,
        DATA_DIR=str(tmp_path_factory.mktemp("push-endpoints-data")),
        RATE_LIMIT_AUTH_PER_IP="1000",
        PUSH_ALLOWED_HOSTS=ALLOWED_HOSTS,
    )
    with portico_server(free_port(), env, tmp_path_factory.mktemp("push-endpoints")) as running:
        yield running


@pytest.fixture(scope="module")
def api(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def user(api: httpx.Client) -> dict[str, str]:
    name = f"p{uuid.uuid4().hex[:12]}"
    body = {"user": {"username": name, "email": f"{name}@test.com", "password": "password123"}}
    created = api.post("/api/users", json=body)
    assert created.status_code == 201, created.text
    return {"Authorization": f"Token {created.json()['user']['token']}"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def subscribe(api: httpx.Client, user: dict[str, str], endpoint: str) -> httpx.Response:
    keys = {"p256dh": b64url(b"\x04" + os.urandom(64)), "auth": b64url(os.urandom(16))}
    return api.post(
        "/api/push/subscriptions", json={"endpoint": endpoint, "keys": keys}, headers=user
    )


def refusal(response: httpx.Response, *, status: int = 422) -> str:
    """The one message of a refusal keyed `endpoint`: 422, or 403 for a host off the list."""
    assert response.status_code == status, response.text
    errors = response.json()["errors"]
    assert list(errors) == ["endpoint"], errors
    (message,) = errors["endpoint"]
    return str(message)


def test_a_metadata_address_endpoint_is_refused(api: httpx.Client, user: dict[str, str]) -> None:
    response = subscribe(api, user, "https://169.254.169.254/latest/meta-data/iam/")
    assert refusal(response) == "must name the push service's host, not an IP address"


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://[::1]/x",
        "https://[fd00:ec2::254]/latest/meta-data/",
        "https://[::ffff:169.254.169.254]/x",
        "https://2852039166/latest/meta-data/",
        "https://0xa9fea9fe/latest/meta-data/",
        "https://0251.0376.0251.0376/x",
        "https://169.254.169.254./x",
        "https://127.1/x",
    ],
)
def test_an_ip_literal_in_any_notation_is_refused(
    api: httpx.Client, user: dict[str, str], endpoint: str
) -> None:
    assert refusal(subscribe(api, user, endpoint)) == (
        "must name the push service's host, not an IP address"
    )


def test_credentials_in_the_endpoint_are_refused(api: httpx.Client, user: dict[str, str]) -> None:
    response = subscribe(api, user, "https://fcm.googleapis.com@169.254.169.254/x")
    assert refusal(response) == "must not carry a user name or password"


def test_an_allowed_name_resolving_to_loopback_is_refused(
    api: httpx.Client, user: dict[str, str]
) -> None:
    response = subscribe(api, user, "https://localhost/push/1")
    assert refusal(response) == "localhost resolves to a private or reserved address"


def test_an_allowed_name_that_does_not_resolve_is_refused(
    api: httpx.Client, user: dict[str, str]
) -> None:
    response = subscribe(api, user, f"https://{UNRESOLVABLE}/push/1")
    assert refusal(response) == f"{UNRESOLVABLE} does not resolve; subscribe again later"


@pytest.mark.parametrize(
    ("endpoint", "host"),
    [
        ("https://push.example.com/send/1", "push.example.com"),
        ("https://metadata.google.internal/computeMetadata/v1/", "metadata.google.internal"),
        ("https://push.apple.com/x", "push.apple.com"),
        ("https://fcm.googleapis.com.evil.example/x", "fcm.googleapis.com.evil.example"),
    ],
)
def test_a_host_off_the_allowlist_is_refused(
    api: httpx.Client, user: dict[str, str], endpoint: str, host: str
) -> None:
    refused = subscribe(api, user, endpoint)
    assert refusal(refused, status=403) == f"{host} is not a known push service"


def test_a_field_the_push_api_does_not_send_is_refused(
    api: httpx.Client, user: dict[str, str]
) -> None:
    keys = {"p256dh": b64url(b"\x04" + os.urandom(64)), "auth": b64url(os.urandom(16))}
    body = {"endpoint": "https://fcm.googleapis.com/x", "keys": keys, "options": {"a": 1}}
    response = api.post("/api/push/subscriptions", json=body, headers=user)
    assert response.status_code == 422, response.text
    assert list(response.json()["errors"]) == ["options"]


def test_plain_http_is_refused(api: httpx.Client, user: dict[str, str]) -> None:
    response = subscribe(api, user, "http://localhost:8089/push/1")
    assert refusal(response) == "must be an https URL"


def test_the_local_testing_escape_stops_a_production_server(tmp_path: Path) -> None:
    env = clean_env(
        APP_ENV="production",
        APP_PUBLIC_URL="https://portico.example.com",
        JWT_SECRET="s" * 64,
        AUDIT_SIGNING_KEY="a" * 32,
        DATABASE_URL="postgresql://portico@127.0.0.1:1/portico",
        PUSH_ALLOW_LOCAL_ENDPOINTS="true",
        APP_PORT=str(free_port()),
    )
    result = run_portico("serve", env=env, cwd=tmp_path, timeout=30)
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("portico: configuration error: PUSH_ALLOW_LOCAL_ENDPOINTS: "), line
    assert "production" in line
