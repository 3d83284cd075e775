"""Tokens out of page scripts' reach, and security headers, against `portico serve`."""

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.live_clients import authenticated, sse_events
from tests.support.network import free_port
from tests.support.server import RunningServer, clean_env, portico_server

pytestmark = pytest.mark.e2e

BODY_DELIVERY = {"Refresh-Token-Delivery": "body"}
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
API_POLICY = "default-src 'none'; frame-ancestors 'none'"


def serve(
    env: dict[str, str], tmp_path_factory: pytest.TempPathFactory, name: str
) -> Iterator[RunningServer]:
    with portico_server(free_port(), env, tmp_path_factory.mktemp(name)) as running:
        yield running


@pytest.fixture(scope="module")
def env(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return clean_env(
        DATABASE_URL=migrated_url,
        DATA_DIR=str(tmp_path_factory.mktemp("token-exposure-data")),
        RATE_LIMIT_AUTH_PER_IP="1000",
    )


@pytest.fixture(scope="module")
def server(
    env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    yield from serve(env, tmp_path_factory, "token-exposure")


@pytest.fixture(scope="module")
def https_server(
    env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    yield from serve(
        {**env, "APP_PUBLIC_URL": "https://portico.example.com"}, tmp_path_factory, "hsts"
    )


@pytest.fixture
def api(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


def credentials() -> dict[str, str]:
    name = f"u{uuid.uuid4().hex[:12]}"
    return {"username": name, "email": f"{name}@test.com", "password": "password123"}


def register(api: httpx.Client, user: dict[str, str], **headers: str) -> httpx.Response:
    response = api.post("/api/users", json={"user": user}, headers=headers)
    assert response.status_code == 201, response.text
    return response


def log_in(api: httpx.Client, user: dict[str, str], **headers: str) -> httpx.Response:
    body = {"user": {"email": user["email"], "password": user["password"]}}
    response = api.post("/api/users/login", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response


def refresh_cookie_of(response: httpx.Response) -> str:
    """The refresh cookie a response set; httpx would not send it back over plain http."""
    value = response.cookies["refresh_token"]
    assert len(value) >= 40
    return value


def body_of(response: httpx.Response) -> dict[str, Any]:
    user: dict[str, Any] = response.json()["user"]
    assert user["token"]
    return user


def assert_not_stored(response: httpx.Response) -> None:
    assert response.headers.get_list("cache-control") == ["no-store"]


def assert_security_headers(response: httpx.Response, *, policy: str | None = API_POLICY) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get_list(name) == [value], name
    (csp,) = response.headers.get_list("content-security-policy")
    assert "frame-ancestors 'none'" in csp
    if policy is not None:
        assert csp == policy


def test_a_browser_sign_in_gets_the_refresh_token_as_the_cookie_only(api: httpx.Client) -> None:
    user = credentials()
    registered = register(api, user)
    login = log_in(api, user)
    for response in (registered, login):
        assert "refreshToken" not in body_of(response)
        assert refresh_cookie_of(response) not in response.text
        assert "httponly" in response.headers["set-cookie"].lower()
        assert_not_stored(response)


def test_a_refresh_by_cookie_never_puts_the_token_in_the_body(api: httpx.Client) -> None:
    """Even when a page script asks for the body, as an attacker's script would."""
    user = credentials()
    register(api, user)
    cookie = refresh_cookie_of(log_in(api, user))
    for headers in ({}, BODY_DELIVERY):
        refreshed = api.post(
            "/api/auth/refresh", headers={"Cookie": f"refresh_token={cookie}", **headers}
        )
        assert refreshed.status_code == 200, refreshed.text
        assert "refreshToken" not in body_of(refreshed)
        rotated = refresh_cookie_of(refreshed)
        assert rotated != cookie
        assert rotated not in refreshed.text
        assert_not_stored(refreshed)
        cookie = rotated


def test_a_client_that_opts_in_gets_the_token_in_the_body_and_keeps_rotating_it(
    api: httpx.Client,
) -> None:
    user = credentials()
    registered = register(api, user, **BODY_DELIVERY)
    login = log_in(api, user, **BODY_DELIVERY)
    for response in (registered, login):
        assert body_of(response)["refreshToken"]
        assert "refresh_token" not in response.cookies
        assert_not_stored(response)
    token = body_of(login)["refreshToken"]
    refreshed = api.post("/api/auth/refresh", json={"refreshToken": token})
    assert refreshed.status_code == 200, refreshed.text
    rotated = body_of(refreshed)["refreshToken"]
    assert rotated != token
    assert "refresh_token" not in refreshed.cookies
    assert_not_stored(refreshed)
    replayed = api.post(
        "/api/auth/refresh", json={"refreshToken": token}, headers={"User-Agent": "elsewhere/1.0"}
    )
    assert replayed.status_code == 401


def test_the_current_user_and_its_update_are_not_stored(api: httpx.Client) -> None:
    user = credentials()
    token = body_of(register(api, user))["token"]
    auth = {"Authorization": f"Token {token}"}
    current = api.get("/api/user", headers=auth)
    updated = api.put("/api/user", json={"user": {"bio": "hello"}}, headers=auth)
    for response in (current, updated):
        assert response.status_code == 200, response.text
        assert "refreshToken" not in body_of(response)
        assert_not_stored(response)
        assert_security_headers(response)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/tags", 200),
        ("GET", "/api/no-such-route", 404),
        ("GET", "/api/user", 401),
        ("POST", "/api/auth/refresh", 401),
    ],
)
def test_api_answers_and_errors_carry_the_security_headers(
    api: httpx.Client, method: str, path: str, status: int
) -> None:
    response = api.request(method, path)
    assert response.status_code == status
    assert_security_headers(response)
    assert "strict-transport-security" not in response.headers


def test_an_answer_without_a_token_may_be_cached(api: httpx.Client) -> None:
    assert "cache-control" not in api.get("/api/tags").headers


def test_the_docs_page_has_a_strict_policy_of_its_own(api: httpx.Client) -> None:
    page = api.get("/docs")
    assert page.status_code == 200
    assert_security_headers(page, policy=None)
    directives = dict(
        d.strip().split(" ", 1) for d in page.headers["content-security-policy"].split(";")
    )
    assert directives["default-src"] == "'none'"
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "*" not in page.headers["content-security-policy"]
    assert directives["connect-src"] == "'self'"


@pytest.mark.parametrize("path", ["/api/tags", "/docs", "/api/no-such-route", "/api/user"])
def test_hsts_is_sent_when_the_public_url_is_https(https_server: RunningServer, path: str) -> None:
    response = httpx.get(f"{https_server.base_url}{path}", timeout=10)
    assert response.headers.get_list("strict-transport-security") == ["max-age=31536000"]
    assert_security_headers(response, policy=None)


async def test_live_channels_still_work_behind_the_headers(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        registered = await client.post("/api/users", json={"user": credentials()})
        token = registered.json()["user"]["token"]
        async with authenticated(server.base_url, token, ticket=True) as (_, ok):
            assert ok["type"] == "auth_ok"
        async with client.stream(
            "GET", "/api/notifications/stream", headers={"Authorization": f"Token {token}"}
        ) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            assert stream.headers["x-content-type-options"] == "nosniff"
            assert await anext(sse_events(stream)) is not None
