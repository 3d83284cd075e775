"""CORS in-process on the real container, judged the way a browser judges the answers."""

import asyncio
import io
import json
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import httpx
import pytest
from litestar import Litestar, post
from litestar.testing import AsyncTestClient
from loguru import logger

from entrypoints.bootstrap import with_signing_secret
from entrypoints.config import load_settings
from entrypoints.http.app import create_app
from entrypoints.http.auth import PUBLIC
from entrypoints.http.middleware.access_log import AccessLogMiddleware
from entrypoints.http.middleware.body_guard import BodyGuardMiddleware
from entrypoints.http.middleware.cors import CorsMiddleware
from entrypoints.http.middleware.request_id import RequestIdMiddleware
from entrypoints.ioc import make_container
from entrypoints.logs import configure_logging

pytestmark = pytest.mark.integration

FRONTEND = "http://localhost:4100"
BODY_LIMIT = 4096
SAFELISTED_METHODS = frozenset({"GET", "HEAD", "POST"})
HELD: dict[str, asyncio.Event] = {}


@post("/test/cors/boom", opt=PUBLIC)
async def boom() -> None:
    raise RuntimeError("internal detail")


@post("/test/cors/hold", status_code=200, opt=PUBLIC)
async def hold() -> None:
    HELD["entered"].set()
    await HELD["release"].wait()


AppFactory = Callable[..., Litestar]


@pytest.fixture
def make_app(clean_database: object, migrated_url: str, tmp_path: Path) -> AppFactory:
    def build(**env: str) -> Litestar:
        settings = with_signing_secret(
            load_settings(
                {
                    "DATABASE_URL": migrated_url,
                    "DATA_DIR": str(tmp_path),
                    "MAX_REQUEST_BODY_BYTES": str(BODY_LIMIT),
                    **env,
                },
                env_file=None,
            )
        )
        return create_app(make_container(settings), settings, extra_handlers=[boom, hold])

    return build


def cors_check_passes(response: httpx.Response, origin: str, *, credentials: bool) -> bool:
    """The Fetch standard's CORS check: whether a browser lets the page read `response`."""
    allowed = response.headers.get("access-control-allow-origin")
    if allowed == "*":
        return not credentials
    if allowed != origin:
        return False
    return not credentials or response.headers.get("access-control-allow-credentials") == "true"


def preflight_passes(
    response: httpx.Response,
    origin: str,
    method: str,
    headers: Iterable[str] = (),
    *,
    credentials: bool = False,
) -> bool:
    """The Fetch standard's CORS-preflight check: whether the browser then sends the request."""
    if not 200 <= response.status_code < 300:
        return False
    if not cors_check_passes(response, origin, credentials=credentials):
        return False
    methods = _listed(response, "access-control-allow-methods")
    headers_allowed = {name.lower() for name in _listed(response, "access-control-allow-headers")}
    return (method in methods or method in SAFELISTED_METHODS) and all(
        name.lower() in headers_allowed for name in headers
    )


def _listed(response: httpx.Response, header: str) -> set[str]:
    return {item.strip() for item in response.headers.get(header, "").split(",") if item.strip()}


async def preflight(
    client: AsyncTestClient[Litestar],
    path: str,
    origin: str,
    method: str,
    headers: Iterable[str] = (),
) -> httpx.Response:
    request_headers = {"origin": origin, "access-control-request-method": method}
    if headers:
        request_headers["access-control-request-headers"] = ", ".join(headers)
    return await client.options(path, headers=request_headers)


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def middleware_of(app: Litestar) -> set[type]:
    """The classes of the pure ASGI middleware wrapped around the app's handler."""
    found: set[type] = set()
    handler: object = app.asgi_handler
    while handler is not None:
        found.add(type(handler))
        handler = getattr(handler, "_app", None)
    return found


def new_user() -> dict[str, str]:
    name = f"u{uuid.uuid4().hex[:12]}"
    return {"username": name, "email": f"{name}@test.com", "password": "password123"}


async def test_with_no_origin_listed_there_is_no_middleware_and_no_cors_header(
    make_app: AppFactory,
) -> None:
    app = make_app()
    outer = {RequestIdMiddleware, AccessLogMiddleware, BodyGuardMiddleware}
    assert outer <= middleware_of(app)
    assert CorsMiddleware not in middleware_of(app)
    assert CorsMiddleware in middleware_of(make_app(CORS_ALLOWED_ORIGINS=FRONTEND))
    async with AsyncTestClient(app) as client:
        asked = await preflight(client, "/api/users/login", FRONTEND, "POST", ["content-type"])
        actual = await client.get("/api/tags", headers={"origin": FRONTEND})
    for response in (asked, actual):
        assert cors_headers(response) == {}
        assert "vary" not in response.headers
    assert not preflight_passes(asked, FRONTEND, "POST", ["content-type"])
    assert actual.status_code == 200
    assert not cors_check_passes(actual, FRONTEND, credentials=False)


async def test_a_realworld_frontend_on_another_origin_signs_in_and_reads_its_account(
    make_app: AppFactory,
) -> None:
    user = new_user()
    async with AsyncTestClient(make_app(CORS_ALLOWED_ORIGINS=FRONTEND)) as client:
        asked = await preflight(client, "/api/users", FRONTEND, "POST", ["content-type"])
        assert preflight_passes(asked, FRONTEND, "POST", ["content-type"])
        registered = await client.post(
            "/api/users", json={"user": user}, headers={"origin": FRONTEND}
        )
        assert registered.status_code == 201, registered.text
        assert cors_check_passes(registered, FRONTEND, credentials=False)

        wanted = ["content-type", "authorization"]
        asked = await preflight(client, "/api/users/login", FRONTEND, "POST", wanted)
        assert asked.status_code == 204
        assert preflight_passes(asked, FRONTEND, "POST", wanted)
        credentials = {"email": user["email"], "password": user["password"]}
        signed_in = await client.post(
            "/api/users/login", json={"user": credentials}, headers={"origin": FRONTEND}
        )
        assert signed_in.status_code == 200, signed_in.text
        assert cors_check_passes(signed_in, FRONTEND, credentials=False)
        token = signed_in.json()["user"]["token"]

        asked = await preflight(client, "/api/user", FRONTEND, "GET", ["authorization"])
        assert preflight_passes(asked, FRONTEND, "GET", ["authorization"])
        account = await client.get(
            "/api/user", headers={"origin": FRONTEND, "authorization": f"Token {token}"}
        )
    assert account.status_code == 200, account.text
    assert cors_check_passes(account, FRONTEND, credentials=False)
    assert account.json()["user"]["username"] == user["username"]
    exposed = {name.lower() for name in _listed(account, "access-control-expose-headers")}
    assert {"x-request-id", "retry-after"} <= exposed


async def test_a_preflight_needs_no_token_and_is_logged_with_its_request_id(
    make_app: AppFactory,
) -> None:
    buffer = io.StringIO()
    configure_logging(level="INFO", json_format=True, sink=buffer)
    try:
        async with AsyncTestClient(make_app(CORS_ALLOWED_ORIGINS=FRONTEND)) as client:
            asked = await client.options(
                "/api/articles/some-slug",
                headers={
                    "origin": FRONTEND,
                    "access-control-request-method": "DELETE",
                    "access-control-request-headers": "authorization",
                    "x-request-id": "preflight-1",
                },
            )
    finally:
        logger.remove()
    assert asked.status_code == 204
    assert asked.content == b""
    assert preflight_passes(asked, FRONTEND, "DELETE", ["authorization"])
    assert asked.headers["x-request-id"] == "preflight-1"
    assert asked.headers["access-control-max-age"] == "600"
    records = [json.loads(line) for line in buffer.getvalue().splitlines()]
    (access,) = [r for r in records if r["logger"] == "portico.access"]
    assert access["request_id"] == "preflight-1"
    assert (access["extra"]["method"], access["extra"]["status"]) == ("OPTIONS", 204)


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status"),
    [
        ("GET", "/api/user", {}, None, 401),
        ("GET", "/api/user", {"authorization": "Token not-a-jwt"}, None, 401),
        ("GET", "/no/such/route", {}, None, 404),
        ("DELETE", "/api/tags", {}, None, 405),
        ("POST", "/api/users", {"content-type": "application/json"}, b"x" * (BODY_LIMIT + 1), 413),
        ("POST", "/api/users", {"content-type": "text/plain"}, b"{}", 415),
        ("POST", "/api/users", {"content-type": "application/json"}, b'{"user": {}}', 422),
        ("POST", "/test/cors/boom", {}, None, 500),
    ],
)
async def test_error_responses_carry_the_cors_headers_for_an_allowed_origin(
    make_app: AppFactory,
    *,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None,
    status: int,
) -> None:
    async with AsyncTestClient(make_app(CORS_ALLOWED_ORIGINS=FRONTEND)) as client:
        response = await client.request(
            method, path, headers={"origin": FRONTEND, **headers}, content=body
        )
    assert response.status_code == status, response.text
    assert cors_check_passes(response, FRONTEND, credentials=False)
    assert set(response.json()) == {"errors"}


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.test",
        "http://localhost:4101",
        "https://localhost:4100",
        "http://localhost:4100.evil.test",
        "http://localhost:4100/",
        "HTTP://LOCALHOST:4100",
        "null",
    ],
)
async def test_an_origin_not_listed_gets_no_cors_header_and_is_never_echoed(
    make_app: AppFactory, origin: str
) -> None:
    async with AsyncTestClient(
        make_app(CORS_ALLOWED_ORIGINS=FRONTEND, CORS_ALLOW_CREDENTIALS="true")
    ) as client:
        asked = await preflight(client, "/api/users/login", origin, "POST", ["content-type"])
        actual = await client.get("/api/tags", headers={"origin": origin})
        failed = await client.get("/api/user", headers={"origin": origin})
    assert asked.status_code == 403
    assert asked.json() == {"errors": {"origin": ["is not allowed"]}}
    assert (actual.status_code, failed.status_code) == (200, 401)
    for response in (asked, actual, failed):
        assert cors_headers(response) == {}
        assert response.headers["vary"] == "Origin"
        assert all(origin not in value for value in response.headers.values())
        assert not cors_check_passes(response, origin, credentials=False)


async def test_two_origin_headers_are_not_trusted(make_app: AppFactory) -> None:
    async with AsyncTestClient(make_app(CORS_ALLOWED_ORIGINS=FRONTEND)) as client:
        response = await client.get(
            "/api/tags", headers=[("origin", FRONTEND), ("origin", "http://evil.test")]
        )
    assert cors_headers(response) == {}


async def test_every_response_varies_by_origin_once_origins_are_listed(
    make_app: AppFactory,
) -> None:
    async with AsyncTestClient(make_app(CORS_ALLOWED_ORIGINS=FRONTEND)) as client:
        without_origin = await client.get("/api/tags")
        with_origin = await client.get("/api/tags", headers={"origin": FRONTEND})
    assert without_origin.headers["vary"] == "Origin"
    assert cors_headers(without_origin) == {}
    assert with_origin.headers["vary"] == "Origin"


async def test_credentials_let_a_same_site_frontend_use_the_refresh_cookie(
    make_app: AppFactory,
) -> None:
    origin = "https://app.example.com"
    user = new_user()
    app = make_app(CORS_ALLOWED_ORIGINS=origin, CORS_ALLOW_CREDENTIALS="true")
    async with AsyncTestClient(app) as client:
        asked = await preflight(client, "/api/auth/refresh", origin, "POST", ["content-type"])
        registered = await client.post(
            "/api/users", json={"user": user}, headers={"origin": origin}
        )
        refresh_token = registered.cookies["refresh_token"]
        refreshed = await client.post(
            "/api/auth/refresh",
            headers={"origin": origin, "cookie": f"refresh_token={refresh_token}"},
        )
    assert preflight_passes(asked, origin, "POST", ["content-type"], credentials=True)
    assert registered.headers["access-control-allow-credentials"] == "true"
    assert "refresh_token=" in registered.headers["set-cookie"]
    assert refreshed.status_code == 200, refreshed.text
    assert cors_check_passes(refreshed, origin, credentials=True)


async def test_without_allowing_credentials_a_credentialed_request_is_not_readable(
    make_app: AppFactory,
) -> None:
    async with AsyncTestClient(make_app(CORS_ALLOWED_ORIGINS=FRONTEND)) as client:
        asked = await preflight(client, "/api/auth/refresh", FRONTEND, "POST", ["content-type"])
        actual = await client.get("/api/tags", headers={"origin": FRONTEND})
    assert "access-control-allow-credentials" not in asked.headers
    assert "access-control-allow-credentials" not in actual.headers
    assert preflight_passes(asked, FRONTEND, "POST", ["content-type"])
    assert not preflight_passes(asked, FRONTEND, "POST", ["content-type"], credentials=True)
    assert not cors_check_passes(actual, FRONTEND, credentials=True)


async def test_any_origin_gets_a_star_and_never_its_own_name(make_app: AppFactory) -> None:
    origin = "https://anywhere.example"
    async with AsyncTestClient(make_app(CORS_ALLOWED_ORIGINS="*")) as client:
        asked = await preflight(client, "/api/user", origin, "GET", ["authorization"])
        actual = await client.get("/api/tags", headers={"origin": origin, "cookie": "a=b"})
    assert preflight_passes(asked, origin, "GET", ["authorization"])
    for response in (asked, actual):
        assert response.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in response.headers
        assert all(origin not in value for value in response.headers.values())
    assert cors_check_passes(actual, origin, credentials=False)


async def test_the_lists_and_the_max_age_follow_the_settings(make_app: AppFactory) -> None:
    app = make_app(
        CORS_ALLOWED_ORIGINS=f"{FRONTEND}, https://app.example.com",
        CORS_ALLOWED_METHODS="get, delete",
        CORS_ALLOWED_HEADERS="Authorization",
        CORS_EXPOSE_HEADERS="X-Request-ID",
        CORS_MAX_AGE_SECONDS="0",
    )
    async with AsyncTestClient(app) as client:
        deleting = await preflight(client, "/api/user", FRONTEND, "DELETE", ["authorization"])
        putting = await preflight(client, "/api/user", FRONTEND, "PUT", ["authorization"])
        typed = await preflight(
            client, "/api/users", "https://app.example.com", "POST", ["content-type"]
        )
        actual = await client.get("/api/tags", headers={"origin": "https://app.example.com"})
    assert preflight_passes(deleting, FRONTEND, "DELETE", ["authorization"])
    assert deleting.headers["access-control-max-age"] == "0"
    assert not preflight_passes(putting, FRONTEND, "PUT", ["authorization"])
    assert not preflight_passes(typed, "https://app.example.com", "POST", ["content-type"])
    assert cors_check_passes(typed, "https://app.example.com", credentials=False)
    assert actual.headers["access-control-expose-headers"] == "X-Request-ID"


async def test_a_preflight_is_answered_while_the_concurrency_limit_is_full(
    make_app: AppFactory,
) -> None:
    """On this test's own loop (the test client would serve one request at a time)."""
    HELD.update(entered=asyncio.Event(), release=asyncio.Event())
    app = make_app(CORS_ALLOWED_ORIGINS=FRONTEND, APP_MAX_CONCURRENT_REQUESTS="1")
    # httpx types an ASGI app with plain mappings, Litestar with TypedDicts; both are ASGI.
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://portico") as client:
        held = asyncio.create_task(client.post("/test/cors/hold"))
        try:
            await asyncio.wait_for(HELD["entered"].wait(), timeout=5)
            asked = await asyncio.wait_for(
                client.options(
                    "/api/user",
                    headers={"origin": FRONTEND, "access-control-request-method": "GET"},
                ),
                timeout=2,
            )
        finally:
            HELD["release"].set()
        assert (await held).status_code == 200
    assert preflight_passes(asked, FRONTEND, "GET")
