"""Refresh-token repeats against `portico serve` on PostgreSQL: racing tabs, and late replays.

Browser tabs that share one refresh cookie refresh at once; every one of them must get the
pair the first got. The same token presented after the grace period is a replay that
revokes the session, as is any token presented from another client.
"""

import asyncio
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.network import free_port
from tests.support.server import RunningServer, clean_env, portico_server

pytestmark = pytest.mark.e2e

TABS = 20
COOKIE = "refresh_token"
INVALID = {"errors": {"token": ["is invalid"]}}


@pytest.fixture(scope="module")
def env(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return clean_env(
        DATABASE_URL=migrated_url,
        DATA_DIR=str(tmp_path_factory.mktemp("refresh-grace-data")),
        RATE_LIMIT_AUTH_PER_IP="1000",
        RATE_LIMIT_REGISTRATIONS_PER_IP="1000",
    )


@pytest.fixture(scope="module")
def server(
    env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """The default grace period (5 seconds)."""
    with portico_server(free_port(), env, tmp_path_factory.mktemp("refresh-grace")) as running:
        yield running


@pytest.fixture(scope="module")
def short_grace_server(
    env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    with portico_server(
        free_port(),
        {**env, "REFRESH_REUSE_GRACE_SECONDS": "1"},
        tmp_path_factory.mktemp("refresh-grace-short"),
    ) as running:
        yield running


def cookie_set_by(response: httpx.Response) -> str:
    """The refresh token a response set (the cookie is Secure: httpx would not resend it)."""
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name.strip() == COOKIE:
            return rest.split(";", 1)[0]
    raise AssertionError(f"no {COOKIE} cookie in {response.headers}")


def registration() -> dict[str, dict[str, str]]:
    name = f"u{uuid.uuid4().hex[:12]}"
    return {"user": {"username": name, "email": f"{name}@test.com", "password": "password123"}}


def with_cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={token}"}


async def test_tabs_racing_one_cookie_all_get_the_same_new_pair(server: RunningServer) -> None:
    log_mark = len(server.log())
    limits = httpx.Limits(max_connections=TABS, max_keepalive_connections=TABS)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30, limits=limits) as client:
        registered = await client.post("/api/users", json=registration())
        assert registered.status_code == 201, registered.text
        old = cookie_set_by(registered)
        await asyncio.gather(*(client.get("/health/live") for _ in range(TABS)))
        responses = await asyncio.gather(
            *(client.post("/api/auth/refresh", headers=with_cookie(old)) for _ in range(TABS))
        )
        assert [r.status_code for r in responses] == [200] * TABS, [r.text for r in responses]
        new_tokens = {cookie_set_by(r) for r in responses}
        access_tokens = {r.json()["user"]["token"] for r in responses}
        assert len(new_tokens) == 1, f"{len(new_tokens)} refresh tokens for one refresh"
        assert len(access_tokens) == 1, f"{len(access_tokens)} access tokens for one refresh"
        (new,), (access,) = new_tokens, access_tokens
        assert new != old
        me = await client.get("/api/user", headers={"Authorization": f"Token {access}"})
        assert me.status_code == 200, me.text
        onward = await client.post("/api/auth/refresh", headers=with_cookie(new))
        assert onward.status_code == 200, onward.text
        assert cookie_set_by(onward) not in (old, new)
    log = server.log()[log_mark:]
    assert "refresh token repeated within the grace period" in log
    assert "refresh token reuse" not in log


def test_the_same_token_after_the_grace_period_revokes_the_session(
    short_grace_server: RunningServer,
) -> None:
    with httpx.Client(base_url=short_grace_server.base_url, timeout=10) as client:
        registered = client.post("/api/users", json=registration())
        assert registered.status_code == 201, registered.text
        old = cookie_set_by(registered)
        first = client.post("/api/auth/refresh", headers=with_cookie(old))
        assert first.status_code == 200, first.text
        new, access = cookie_set_by(first), first.json()["user"]["token"]
        assert client.get("/api/user", headers={"Authorization": f"Token {access}"}).is_success
        time.sleep(1.5)
        replay = client.post("/api/auth/refresh", headers=with_cookie(old))
        assert replay.status_code == 401
        assert replay.json() == INVALID
        me = client.get("/api/user", headers={"Authorization": f"Token {access}"})
        assert me.status_code == 401, "the session the new access token names is revoked"
        assert client.post("/api/auth/refresh", headers=with_cookie(new)).status_code == 401
    assert "refresh token reuse" in short_grace_server.log()


def test_the_same_token_from_another_client_within_the_grace_period_revokes_the_session(
    server: RunningServer,
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        registered = client.post("/api/users", json=registration())
        assert registered.status_code == 201, registered.text
        old = cookie_set_by(registered)
        first = client.post("/api/auth/refresh", headers=with_cookie(old))
        assert first.status_code == 200, first.text
        access = first.json()["user"]["token"]
        replay = client.post(
            "/api/auth/refresh", headers={**with_cookie(old), "User-Agent": "thief/1.0"}
        )
        assert replay.status_code == 401
        assert replay.json() == INVALID
        me = client.get("/api/user", headers={"Authorization": f"Token {access}"})
        assert me.status_code == 401
        again = client.post("/api/auth/refresh", headers=with_cookie(old))
        assert again.status_code == 401, "a revoked session is not revived by its own client"
