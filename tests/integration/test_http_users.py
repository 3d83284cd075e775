"""The users routes in-process on PostgreSQL: guard, permissions, envelopes, ownership."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from dishka import AsyncContainer
from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from application.common.permissions import Permission
from application.users.set_role import SetRole, SetRoleCommand
from domain.users.values import Role
from entrypoints.bootstrap import with_signing_secret
from entrypoints.config import load_settings
from entrypoints.http.app import create_app
from entrypoints.http.auth import requires
from entrypoints.ioc import make_container
from tests.support.http_app import register
from tests.support.network import closed_port

pytestmark = pytest.mark.integration

EXPECTED_PUBLIC = {
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/docs"),
    # The API reference's and the dashboard's own scripts; the dashboard page itself holds
    # no figure: its sign-in form gets a token, and the stream needs `audit:read`.
    ("GET", "/docs/assets/{digest:str}/{name:str}"),
    ("GET", "/admin"),
    ("GET", "/admin/assets/{digest:str}/{name:str}"),
    ("POST", "/api/users"),
    ("POST", "/api/users/login"),
    ("POST", "/api/auth/refresh"),
    ("POST", "/api/auth/verify-email"),
    ("POST", "/api/auth/password-reset"),
    ("POST", "/api/auth/password-reset/confirm"),
    ("POST", "/api/auth/restore-email"),
    ("GET", "/api/profiles/{username:str}"),
    ("GET", "/api/articles"),
    ("GET", "/api/articles/{slug:str}"),
    ("GET", "/api/articles/{slug:str}/comments"),
    ("GET", "/api/tags"),
    ("GET", "/api/push/vapid-public-key"),
    # Public files and their thumbnails; a direct upload's URL carries its own signature.
    ("GET", "/api/files/{file_id:uuid}"),
    ("GET", "/api/files/{file_id:uuid}/thumbnail"),
    ("PUT", "/api/files/{file_id:uuid}/content"),
    ("GET", "/api/articles/{slug:str}/images"),
    # The pages behind emailed links (docs/pages.md).
    ("GET", "/verify-email"),
    ("POST", "/verify-email"),
    ("GET", "/reset-password"),
    ("POST", "/reset-password"),
    ("GET", "/restore-email"),
    ("POST", "/restore-email"),
    ("GET", "/article/{slug:str}"),
    ("GET", "/profile/{username:str}"),
    ("GET", "/settings"),
}


@get("/test/moderation", opt=requires(Permission.MODERATE_CONTENT))
async def moderation_queue() -> dict[str, str]:
    return {"queue": "empty"}


@pytest.fixture
async def app(clean_database: Any, migrated_url: str, tmp_path: Any) -> AsyncIterator[Litestar]:
    settings = with_signing_secret(
        load_settings({"DATABASE_URL": migrated_url, "DATA_DIR": str(tmp_path)}, env_file=None)
    )
    container = make_container(settings)
    app = create_app(container, settings, extra_handlers=[moderation_queue])
    yield app
    await container.close()


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app) as client:
        yield client


def test_only_the_intended_routes_are_public(app: Litestar) -> None:
    public: set[tuple[str, str]] = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            methods: set[str] = getattr(handler, "http_methods", set())
            if handler.opt.get("public") and not route.path.startswith("/schema"):
                public |= {(method, route.path) for method in methods if method != "OPTIONS"}
    assert public == EXPECTED_PUBLIC


async def test_a_missing_token_is_401_before_the_body_is_looked_at(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.put(
        "/api/user", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 401
    assert response.json() == {"errors": {"token": ["is missing"]}}


@pytest.mark.parametrize("scheme", ["Token", "Bearer", "bearer", "TOKEN"])
async def test_token_and_bearer_schemes_are_accepted(
    client: AsyncTestClient[Litestar], scheme: str
) -> None:
    token = await register(client, "ada")
    response = await client.get("/api/user", headers={"Authorization": f"{scheme} {token}"})
    assert response.status_code == 200
    assert response.json()["user"]["username"] == "ada"


@pytest.mark.parametrize(
    "header", ["Basic YWRhOnB3", "Token", "Token not.a.jwt", "Bearer  ", "eyJhbGciOiJub25lIn0"]
)
async def test_bad_credentials_are_401_invalid(
    client: AsyncTestClient[Litestar], header: str
) -> None:
    response = await client.get("/api/user", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json() == {"errors": {"token": ["is invalid"]}}


async def test_a_public_route_refuses_a_bad_token_rather_than_ignoring_it(
    client: AsyncTestClient[Litestar],
) -> None:
    await register(client, "ada")
    response = await client.get("/api/profiles/ada", headers={"Authorization": "Token forged"})
    assert response.status_code == 401


async def test_a_role_without_the_permission_gets_403_and_one_with_it_gets_in(
    client: AsyncTestClient[Litestar], app: Litestar
) -> None:
    user_token = await register(client, "ada")
    headers = {"Authorization": f"Token {user_token}"}
    denied = await client.get("/test/moderation", headers=headers)
    assert denied.status_code == 403
    assert denied.json() == {"errors": {"permission": ["is required: content:moderate"]}}
    container: AsyncContainer = app.state.dishka_container
    async with container() as request:
        await (await request.get(SetRole))(SetRoleCommand(username="ada", role=Role.MODERATOR))
    allowed = await client.get("/test/moderation", headers=headers)
    assert allowed.status_code == 200, "a promotion takes effect on the next request"


async def test_a_user_changes_only_their_own_account(client: AsyncTestClient[Litestar]) -> None:
    ada = await register(client, "ada")
    await register(client, "bob")
    response = await client.put(
        "/api/user", json={"user": {"bio": "mine"}}, headers={"Authorization": f"Token {ada}"}
    )
    assert response.json()["user"]["username"] == "ada"
    bob = await client.get("/api/profiles/bob")
    assert bob.json()["profile"]["bio"] is None


async def test_hostile_registration_bodies_get_4xx_envelopes(
    client: AsyncTestClient[Litestar],
) -> None:
    hostile = [
        {"user": {"username": "x" * 20_000, "email": "a@test.com", "password": "password123"}},
        {
            "user": {
                "username": "robert'); DROP TABLE users;--",
                "email": "b@t.co",
                "password": "password123",
            }
        },
        {"user": {"username": "\u202eevil", "email": "c@t.co", "password": "password123"}},
        {"user": {"username": "nul\u0000byte", "email": "d@t.co", "password": "password123"}},
        {"user": {"username": "ok1", "email": {"$ne": None}, "password": "password123"}},
        {"user": {"username": "ok2", "email": "e@t.co", "password": 12345678}},
        {"user": {"username": ["a"], "email": "f@t.co", "password": "password123"}},
        {"user": None},
        {},
    ]
    for body in hostile:
        response = await client.post("/api/users", json=body)
        assert 400 <= response.status_code < 500, (body, response.text)
        assert response.json()["errors"], body
    huge = b'{"user":{"username":"big","email":"g@t.co","password":"' + b"p" * 10_000_000 + b'"}}'
    response = await client.post(
        "/api/users", content=huge, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


AUTH_PREFIXES = ("/api/users", "/api/auth")
CREDENTIAL_CHANGES = ("/api/user",)


def test_every_auth_route_has_a_rate_limit(app: Litestar) -> None:
    unlimited = [
        (method, route.path)
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        for method in getattr(handler, "http_methods", set())
        if method != "OPTIONS" and "rate_limit" not in handler.opt
        if route.path.startswith(AUTH_PREFIXES)
        or (route.path in CREDENTIAL_CHANGES and method not in {"GET", "HEAD"})
    ]
    assert unlimited == []


async def limited_client(migrated_url: str, tmp_path: Any, **env: str) -> AsyncTestClient[Litestar]:
    settings = with_signing_secret(
        load_settings(
            {"DATABASE_URL": migrated_url, "DATA_DIR": str(tmp_path), **env}, env_file=None
        )
    )
    return AsyncTestClient(create_app(make_container(settings), settings))


async def test_over_the_per_ip_limit_is_429_with_retry_after(
    clean_database: Any, migrated_url: str, tmp_path: Any
) -> None:
    async with await limited_client(
        migrated_url,
        tmp_path,
        RATE_LIMIT_AUTH_PER_IP="3",
        RATE_LIMIT_AUTH_PER_IP_WINDOW_SECONDS="60",
    ) as client:
        body = {"user": {"email": "nobody@test.com", "password": "password123"}}
        statuses = [
            (await client.post("/api/users/login", json=body)).status_code for _ in range(3)
        ]
        assert statuses == [401, 401, 401]
        limited = await client.post("/api/users/login", json=body)
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 20
        assert list(limited.json()["errors"]) == ["rate_limit"]
        other_route = await client.post("/api/users", json={"user": {}})
        assert other_route.status_code == 422


async def test_sign_up_has_a_per_ip_limit_of_its_own_beside_the_auth_one(
    clean_database: Any, migrated_url: str, tmp_path: Any
) -> None:
    async with await limited_client(
        migrated_url,
        tmp_path,
        RATE_LIMIT_AUTH_PER_IP="100",
        RATE_LIMIT_REGISTRATIONS_PER_IP="2",
        RATE_LIMIT_REGISTRATIONS_PER_IP_WINDOW_SECONDS="3600",
    ) as client:
        statuses = [
            (await client.post("/api/users", json={"user": {}})).status_code for _ in range(2)
        ]
        assert statuses == [422, 422]
        limited = await client.post("/api/users", json={"user": {}})
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 3600
        assert list(limited.json()["errors"]) == ["rate_limit"]
        login = {"user": {"email": "nobody@test.com", "password": "password123"}}
        assert (await client.post("/api/users/login", json=login)).status_code == 401


async def test_the_shared_redis_limiter_is_used_when_configured(
    clean_database: Any, migrated_url: str, tmp_path: Any, redis_url: str
) -> None:
    env = {"REDIS_URL": redis_url, "RATE_LIMIT_AUTH_PER_IP": "2"}
    first = await limited_client(migrated_url, tmp_path, **env)
    second = await limited_client(migrated_url, tmp_path, **env)
    body = {"user": {"email": f"{uuid.uuid4().hex}@test.com", "password": "password123"}}
    async with first, second:
        path = f"/api/users/login?probe={uuid.uuid4().hex}"
        await first.post(path, json=body)
        await second.post(path, json=body)
        statuses = {(await c.post(path, json=body)).status_code for c in (first, second)}
    assert statuses == {429}


async def test_when_redis_is_down_auth_routes_fail_open_and_login_fails_closed(
    clean_database: Any, migrated_url: str, tmp_path: Any
) -> None:
    env = {"REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0"}
    async with await limited_client(migrated_url, tmp_path, **env) as client:
        registered = await client.post(
            "/api/users",
            json={"user": {"username": "ada", "email": "ada@test.com", "password": "password123"}},
        )
        assert registered.status_code == 201
        login = await client.post(
            "/api/users/login", json={"user": {"email": "ada@test.com", "password": "password123"}}
        )
        assert login.status_code == 503
        assert login.headers["retry-after"]
        assert list(login.json()["errors"]) == ["rate_limit"]
