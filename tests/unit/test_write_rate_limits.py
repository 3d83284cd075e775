"""Per-user write limits: follows, favorites, comments and new articles, with no server.

The app runs on the in-memory persistence and the in-memory limiter; the routes, the guard
and the error envelope are the production ones.
"""

import uuid
from pathlib import Path
from typing import Any

import pytest
from dishka import Provider, Scope, provide
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.inprocess.rate_limiter import InProcessRateLimiter
from application.common.permissions import Permission
from application.common.ports.clock import Clock
from application.common.ports.rate_limits import (
    RateLimit,
    RateLimitDecision,
    RateLimiter,
    RateLimiterUnavailableError,
)
from entrypoints.bootstrap import with_signing_secret
from entrypoints.config import load_settings
from entrypoints.config.settings import RateLimitSettings
from entrypoints.http.app import create_app
from entrypoints.http.rate_limits import (
    ARTICLES,
    COMMENTS,
    FAVORITES,
    FOLLOWS,
    UPLOADS,
    WRITE_RATE_LIMIT,
    WRITE_RULES,
    limit_writes,
    write_route,
)
from entrypoints.ioc import make_container
from entrypoints.ioc.memory import InMemoryPersistenceProvider

UNREACHABLE = "postgresql://nobody@127.0.0.1:1/none"
PASSWORD = "password123"
QUIET = {"OUTBOX_RELAY_IN_API": "false"}  # the limits are at the edge; no events needed

# Every route that writes a follow, a favorite, a comment or an article, and its rule.
WRITE_ROUTES = {
    ("POST", "/api/profiles/{username:str}/follow"): FOLLOWS,
    ("DELETE", "/api/profiles/{username:str}/follow"): FOLLOWS,
    ("POST", "/api/articles/{slug:str}/favorite"): FAVORITES,
    ("DELETE", "/api/articles/{slug:str}/favorite"): FAVORITES,
    ("POST", "/api/articles/{slug:str}/comments"): COMMENTS,
    ("POST", "/api/articles"): ARTICLES,
    ("POST", "/api/files"): UPLOADS,
    ("POST", "/api/files/uploads"): UPLOADS,
}


def build_app(tmp_path: Path, *overrides: Provider, **env: str) -> Litestar:
    settings = with_signing_secret(
        load_settings(
            {"DATABASE_URL": UNREACHABLE, "DATA_DIR": str(tmp_path), **QUIET, **env}, env_file=None
        )
    )
    return create_app(make_container(settings, InMemoryPersistenceProvider(), *overrides), settings)


@pytest.fixture
def default_app(tmp_path: Path) -> Litestar:
    return build_app(tmp_path)


def route_table(app: Litestar) -> dict[tuple[str, str], Any]:
    return {
        (method, route.path): handler
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        for method in getattr(handler, "http_methods", set())
        if method != "OPTIONS"
    }


def test_every_write_route_has_a_per_user_limit(default_app: Litestar) -> None:
    routes = route_table(default_app)
    missing = [key for key in WRITE_ROUTES if key not in routes]
    assert missing == [], "a write route moved: update WRITE_ROUTES"
    unlimited = [
        key
        for key, rule in WRITE_ROUTES.items()
        if routes[key].opt.get(WRITE_RATE_LIMIT) != rule
        or limit_writes not in routes[key].resolve_guards()
    ]
    assert unlimited == []


def test_a_route_naming_a_write_rule_is_counted_by_the_guard(default_app: Litestar) -> None:
    uncounted = [
        key
        for key, handler in route_table(default_app).items()
        if WRITE_RATE_LIMIT in handler.opt and limit_writes not in handler.resolve_guards()
    ]
    assert uncounted == []


def test_every_write_rule_has_a_setting_and_an_unknown_one_is_refused() -> None:
    defaults = RateLimitSettings()
    for rule in WRITE_RULES:
        assert getattr(defaults, f"{rule}_per_user_limit") >= 1
        assert getattr(defaults, f"{rule}_per_user_window_seconds") >= 1
    with pytest.raises(ValueError, match="unknown"):
        write_route("likes", Permission.WRITE_CONTENT)


async def register(client: AsyncTestClient[Any], prefix: str) -> tuple[str, dict[str, str]]:
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    body = {"user": {"username": name, "email": f"{name}@test.com", "password": PASSWORD}}
    response = await client.post("/api/users", json=body)
    assert response.status_code == 201, response.text
    return name, {"Authorization": f"Token {response.json()['user']['token']}"}


async def publish(client: AsyncTestClient[Any], auth: dict[str, str]) -> str:
    body = {"article": {"title": uuid.uuid4().hex, "description": "d", "body": "b"}}
    response = await client.post("/api/articles", json=body, headers=auth)
    assert response.status_code == 201, response.text
    return str(response.json()["article"]["slug"])


def assert_limited(response: Any, window_seconds: int) -> None:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= window_seconds
    assert list(response.json()["errors"]) == ["rate_limit"]


async def test_follows_and_unfollows_share_one_budget_per_user(tmp_path: Path) -> None:
    app = build_app(
        tmp_path,
        RATE_LIMIT_FOLLOWS_PER_USER="4",
        RATE_LIMIT_FOLLOWS_PER_USER_WINDOW_SECONDS="3600",
    )
    async with AsyncTestClient(app) as client:
        victim, _ = await register(client, "v")
        _, attacker = await register(client, "a")
        _, bystander = await register(client, "b")
        path = f"/api/profiles/{victim}/follow"
        statuses = []
        for _ in range(2):
            statuses.append((await client.post(path, headers=attacker)).status_code)
            statuses.append((await client.delete(path, headers=attacker)).status_code)
        assert statuses == [200, 200, 200, 200]
        assert_limited(await client.post(path, headers=attacker), 3600)
        assert_limited(await client.delete(path, headers=attacker), 3600)
        # The budget is the attacker's, not the victim's nor the route's.
        assert (await client.post(path, headers=bystander)).status_code == 200
        # Other writes have budgets of their own.
        slug = await publish(client, attacker)
        favorite = await client.post(f"/api/articles/{slug}/favorite", headers=attacker)
        assert favorite.status_code == 200


async def test_favorites_comments_and_articles_are_limited_per_user(tmp_path: Path) -> None:
    app = build_app(
        tmp_path,
        RATE_LIMIT_FAVORITES_PER_USER="2",
        RATE_LIMIT_COMMENTS_PER_USER="2",
        RATE_LIMIT_COMMENTS_PER_USER_WINDOW_SECONDS="60",
        RATE_LIMIT_ARTICLES_PER_USER="2",
    )
    async with AsyncTestClient(app) as client:
        _, author = await register(client, "w")
        _, reader = await register(client, "r")
        slug = await publish(client, author)
        await publish(client, author)
        body = {"article": {"title": "three", "description": "d", "body": "b"}}
        assert_limited(await client.post("/api/articles", json=body, headers=author), 3600)

        favorite = f"/api/articles/{slug}/favorite"
        assert (await client.post(favorite, headers=reader)).status_code == 200
        assert (await client.delete(favorite, headers=reader)).status_code == 200
        assert_limited(await client.post(favorite, headers=reader), 3600)

        comments = f"/api/articles/{slug}/comments"
        comment = {"comment": {"body": "hello"}}
        for _ in range(2):
            posted = await client.post(comments, json=comment, headers=reader)
            assert posted.status_code == 201, posted.text
        assert_limited(await client.post(comments, json=comment, headers=reader), 60)
        # Deleting and reading are not limited.
        assert (await client.get(comments)).status_code == 200
        assert (await client.delete(f"/api/articles/{slug}", headers=author)).status_code == 204


async def test_an_unauthenticated_write_is_401_and_spends_no_budget(tmp_path: Path) -> None:
    app = build_app(tmp_path, RATE_LIMIT_FOLLOWS_PER_USER="1")
    async with AsyncTestClient(app) as client:
        victim, _ = await register(client, "v")
        _, follower = await register(client, "f")
        path = f"/api/profiles/{victim}/follow"
        for _ in range(3):
            assert (await client.post(path)).status_code == 401
        assert (await client.post(path, headers=follower)).status_code == 200
        assert_limited(await client.post(path, headers=follower), 3600)


class WritesStoreDown:
    """The limiter's store is down for the write rules only (sign-up still works)."""

    def __init__(self, clock: Clock) -> None:
        self._memory = InProcessRateLimiter(clock)

    async def acquire(self, key: str, rate: RateLimit) -> RateLimitDecision:
        if key.startswith(WRITE_RULES):
            raise RateLimiterUnavailableError("store down")
        return await self._memory.acquire(key, rate)

    async def refund(self, key: str, rate: RateLimit) -> None:
        if key.startswith(WRITE_RULES):
            raise RateLimiterUnavailableError("store down")
        await self._memory.refund(key, rate)


class WritesStoreDownProvider(Provider):
    scope = Scope.APP

    @provide(override=True)
    def limiter(self, clock: Clock) -> RateLimiter:
        return WritesStoreDown(clock)


@pytest.mark.parametrize(("fail_open", "status"), [("true", 200), ("false", 503)])
async def test_when_the_store_is_down_writes_follow_rate_limit_fail_open(
    tmp_path: Path, fail_open: str, status: int
) -> None:
    app = build_app(tmp_path, WritesStoreDownProvider(), RATE_LIMIT_FAIL_OPEN=fail_open)
    async with AsyncTestClient(app) as client:
        victim, _ = await register(client, "v")
        _, follower = await register(client, "f")
        response = await client.post(f"/api/profiles/{victim}/follow", headers=follower)
        assert response.status_code == status, response.text
        if status == 503:
            assert response.headers["retry-after"]
            assert list(response.json()["errors"]) == ["rate_limit"]
