"""Security headers and token delivery through the whole app, on the real container."""

import base64
import hashlib
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from entrypoints.bootstrap import with_signing_secret
from entrypoints.config import load_settings
from entrypoints.http.app import create_app
from entrypoints.http.controllers.docs import API_REFERENCE_POLICY
from entrypoints.http.middleware.security_headers import API_POLICY
from entrypoints.http.schemas.users import UserResponse
from entrypoints.ioc import make_container
from tests.support.files import png

pytestmark = pytest.mark.integration

AppFactory = Callable[..., Litestar]
TOKEN_ROUTES = {
    ("POST", "/api/users"),
    ("POST", "/api/users/login"),
    ("POST", "/api/auth/refresh"),
    ("GET", "/api/user"),
    ("PUT", "/api/user"),
    ("PUT", "/api/user/avatar"),
}
EVERYWHERE = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


@pytest.fixture
def make_app(clean_database: object, migrated_url: str, tmp_path: Path) -> AppFactory:
    def build(**env: str) -> Litestar:
        settings = with_signing_secret(
            load_settings(
                {"DATABASE_URL": migrated_url, "DATA_DIR": str(tmp_path), **env}, env_file=None
            )
        )
        return create_app(make_container(settings), settings)

    return build


def new_user() -> dict[str, str]:
    name = f"u{uuid.uuid4().hex[:12]}"
    return {"username": name, "email": f"{name}@example.com", "password": "password123"}


def assert_security_headers(response: httpx.Response, policy: str = API_POLICY) -> None:
    for name, value in EVERYWHERE.items():
        assert response.headers.get_list(name) == [value], name
    assert response.headers.get_list("content-security-policy") == [policy]
    assert "frame-ancestors 'none'" in policy


def answers_with_a_token(annotation: Any) -> bool:
    return annotation is UserResponse or any(answers_with_a_token(a) for a in get_args(annotation))


def test_the_token_routes_are_every_route_that_answers_with_the_user_object(
    make_app: AppFactory,
) -> None:
    """The list the tests below walk is complete: a new route with a token joins it."""
    found = {
        (method, route.path)
        for route in make_app().routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        if answers_with_a_token(handler.parsed_fn_signature.return_type.annotation)
        for method in handler.http_methods
    }
    assert found == TOKEN_ROUTES


async def test_every_response_that_carries_a_token_is_not_stored(make_app: AppFactory) -> None:
    user = new_user()
    async with AsyncTestClient(make_app()) as client:
        responses = {("POST", "/api/users"): await client.post("/api/users", json={"user": user})}
        cookie = responses["POST", "/api/users"].cookies["refresh_token"]
        login = await client.post(
            "/api/users/login", json={"user": {"email": user["email"], "password": "password123"}}
        )
        responses["POST", "/api/users/login"] = login
        responses["POST", "/api/auth/refresh"] = await client.post(
            "/api/auth/refresh", headers={"cookie": f"refresh_token={cookie}"}
        )
        auth = {"Authorization": f"Token {login.json()['user']['token']}"}
        responses["GET", "/api/user"] = await client.get("/api/user", headers=auth)
        responses["PUT", "/api/user"] = await client.put(
            "/api/user", json={"user": {"bio": "hello"}}, headers=auth
        )
        avatar = await client.post(
            "/api/files?purpose=avatar&name=me.png",
            content=png(),
            headers={**auth, "Content-Type": "image/png"},
        )
        assert avatar.status_code == 201, avatar.text
        responses["PUT", "/api/user/avatar"] = await client.put(
            "/api/user/avatar",
            json={"avatar": {"fileId": avatar.json()["file"]["id"]}},
            headers=auth,
        )
        tags = await client.get("/api/tags")
    assert set(responses) == TOKEN_ROUTES
    for route, response in responses.items():
        assert response.status_code in (200, 201), (route, response.text)
        assert response.json()["user"]["token"], route
        assert response.headers.get_list("cache-control") == ["no-store"], route
        assert_security_headers(response)
    assert "no-store" not in tags.headers.get("cache-control", "")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/tags", 200),
        ("GET", "/api/nowhere", 404),
        ("GET", "/api/user", 401),
        ("DELETE", "/api/tags", 405),
        ("GET", "/health/live", 200),
        ("GET", "/schema/openapi.json", 200),
    ],
)
async def test_api_responses_and_errors_carry_the_api_policy(
    make_app: AppFactory, method: str, path: str, status: int
) -> None:
    async with AsyncTestClient(make_app()) as client:
        response = await client.request(method, path)
    assert response.status_code == status
    assert_security_headers(response)
    assert "strict-transport-security" not in response.headers


async def test_a_refusal_before_the_app_carries_them_too(make_app: AppFactory) -> None:
    async with AsyncTestClient(make_app()) as client:
        response = await client.post(
            "/api/users", content=b"a=b", headers={"content-type": "text/plain"}
        )
    assert response.status_code == 415
    assert_security_headers(response)


@pytest.mark.parametrize("path", ["/docs", "/schema", "/schema/"])
async def test_the_reference_pages_get_their_own_policy(make_app: AppFactory, path: str) -> None:
    async with AsyncTestClient(make_app()) as client:
        response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert_security_headers(response, API_REFERENCE_POLICY)


async def test_every_page_resource_is_named_by_the_page_policy(make_app: AppFactory) -> None:
    """What the page loads from elsewhere is allowed by exactly those URLs, not their hosts;
    what it loads from this origin (a path), by 'self'; an inline script, by its hash."""
    async with AsyncTestClient(make_app()) as client:
        page = (await client.get("/docs")).text
    directives = dict(
        directive.strip().split(" ", 1) for directive in API_REFERENCE_POLICY.split(";")
    )
    scripts = re.findall(r'<script[^>]*\bsrc="([^"]+)"', page)
    styles = re.findall(r'<link[^>]*\bhref="([^"]+)"', page)
    assert scripts, page
    for kind, urls in (("script-src", scripts), ("style-src", styles)):
        for url in urls:
            own = url.startswith("/") and not url.startswith("//")
            assert ("'self'" if own else url) in directives[kind].split(), url
    inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", page, re.DOTALL)
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in directives["script-src"].split()
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]


@pytest.mark.parametrize(
    ("public_url", "expected"),
    [("https://portico.example.com", ["max-age=31536000"]), ("http://127.0.0.1:8000", [])],
)
async def test_strict_transport_security_follows_the_public_url(
    make_app: AppFactory, public_url: str, expected: list[str]
) -> None:
    async with AsyncTestClient(make_app(APP_PUBLIC_URL=public_url)) as client:
        for path in ("/api/tags", "/docs", "/api/nowhere"):
            response = await client.get(path)
            assert response.headers.get_list("strict-transport-security") == expected, path


async def test_a_browser_sign_in_keeps_the_refresh_token_out_of_the_body(
    make_app: AppFactory,
) -> None:
    user = new_user()
    async with AsyncTestClient(make_app()) as client:
        registered = await client.post("/api/users", json={"user": user})
        cookie = registered.cookies["refresh_token"]
        refreshed = await client.post(
            "/api/auth/refresh",
            headers={"cookie": f"refresh_token={cookie}", "Refresh-Token-Delivery": "body"},
        )
    assert "refreshToken" not in registered.json()["user"]
    assert refreshed.status_code == 200, refreshed.text
    assert "refreshToken" not in refreshed.json()["user"]
    assert refreshed.cookies["refresh_token"] not in ("", cookie)


@pytest.mark.parametrize("value", ["body", "BODY", " Body "])
async def test_a_client_that_asks_gets_the_refresh_token_in_the_body_only(
    make_app: AppFactory, value: str
) -> None:
    user = new_user()
    async with AsyncTestClient(make_app()) as client:
        registered = await client.post(
            "/api/users", json={"user": user}, headers={"Refresh-Token-Delivery": value}
        )
        token = registered.json()["user"]["refreshToken"]
        refreshed = await client.post("/api/auth/refresh", json={"refreshToken": token})
    assert [cookie.split("=", 1)[0] for cookie in registered.headers.get_list("set-cookie")] == [
        "login_device"
    ]
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["user"]["refreshToken"] not in ("", token)
    assert "set-cookie" not in refreshed.headers


@pytest.mark.parametrize("value", ["cookie", "json", ""])
async def test_any_other_delivery_means_the_cookie(make_app: AppFactory, value: str) -> None:
    user = new_user()
    async with AsyncTestClient(make_app()) as client:
        registered = await client.post(
            "/api/users", json={"user": user}, headers={"Refresh-Token-Delivery": value}
        )
    assert registered.status_code == 201
    assert "refreshToken" not in registered.json()["user"]
    assert registered.cookies["refresh_token"]
