"""The audit routes against `portico serve` on PostgreSQL: the admin's list, a user's own
history, the refusals the guard records, and the live stream following what other
processes write, without holding a database connection while it waits.

The server's pool is two connections with no overflow and a 2 s wait, so a stream that
held one would starve the requests beside it within the test. An entry is readable once
the server's sealer has chained it (every 0.1 s here), so a test waits for what it
expects. Other modules share the database: each test names its own users and looks only
at their entries.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.audit_http import (
    Account,
    actions,
    audit_page,
    http_events,
    log_in,
    next_entry,
    register,
)
from tests.support.live_clients import eventually, server_failures
from tests.support.network import free_port
from tests.support.server import RunningServer, clean_env, portico_server, run_portico

pytestmark = pytest.mark.e2e

STREAM = "/api/admin/audit/stream"
POOL = 2


@pytest.fixture(scope="module")
def env(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return clean_env(
        DATABASE_URL=migrated_url,
        DATA_DIR=str(tmp_path_factory.mktemp("audit-data")),
        AUDIT_STREAM_POLL_SECONDS="0.2",
        AUDIT_SEAL_INTERVAL_SECONDS="0.1",
        DATABASE_POOL_SIZE=str(POOL),
        DATABASE_MAX_OVERFLOW="0",
        DATABASE_POOL_TIMEOUT_SECONDS="2",
        APP_MAX_STREAMED_BODIES="1",
        RATE_LIMIT_AUTH_PER_IP="1000",
        RATE_LIMIT_REGISTRATIONS_PER_IP="1000",
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audit-routes")


@pytest.fixture(scope="module")
def server(env: dict[str, str], workdir: Path) -> Iterator[RunningServer]:
    with portico_server(free_port(), env, workdir) as running:
        yield running


@pytest.fixture
async def api(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        yield client


async def listed(
    api: httpx.AsyncClient,
    admin: Account,
    ready: Callable[[list[dict[str, Any]]], bool],
    **query: str | int,
) -> dict[str, Any]:
    """The page of `GET /api/admin/audit` for `query` once its entries are `ready`."""

    async def probe() -> dict[str, Any] | None:
        page = await audit_page(api, admin, **query)
        return page if ready(page["entries"]) else None

    return await eventually(probe, within=10, what=f"audit entries for {query}")


def count(expected: int) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda entries: len(entries) == expected


def cli_set_role(env: dict[str, str], workdir: Path, account: Account, role: str) -> None:
    changed = run_portico("users", "set-role", account.name, role, env=env, cwd=workdir)
    assert changed.returncode == 0, changed.stdout + changed.stderr


@pytest.fixture
async def admin(api: httpx.AsyncClient, env: dict[str, str], workdir: Path) -> Account:
    account = await register(api, "admin")
    cli_set_role(env, workdir, account, "admin")
    return account


async def test_an_admin_lists_what_requests_did_filtered_and_paged(
    api: httpx.AsyncClient, admin: Account
) -> None:
    author = await register(api, "author")
    article = {"title": f"Audit {uuid.uuid4().hex[:8]}", "description": "d", "body": "one"}
    published = await api.post("/api/articles", json={"article": article}, headers=author.headers)
    assert published.status_code == 201, published.text
    slug = published.json()["article"]["slug"]
    request_id = f"audit-e2e-{uuid.uuid4().hex[:8]}"
    edited = await api.put(
        f"/api/articles/{slug}",
        json={"article": {"body": "two"}},
        headers={**author.headers, "X-Request-ID": request_id},
    )
    assert edited.status_code == 200, edited.text

    on_author = await listed(api, admin, count(1), targetType="user", targetId=author.user_id)
    (registered,) = on_author["entries"]
    assert (registered["action"], registered["outcome"]) == ("user.register", "success")

    on_article = (await listed(api, admin, count(2), targetType="article", targetId=slug))[
        "entries"
    ]
    assert actions(on_article) == ["article.update", "article.publish"]
    update = on_article[0]
    assert update["changes"] == [{"field": "body", "before": "one", "after": "two"}]
    assert update["actor"]["userId"] == author.user_id
    assert update["actor"]["username"] == author.name
    assert update["requestId"] == request_id
    assert update["clientIp"] == "127.0.0.1"
    (by_request,) = (await audit_page(api, admin, requestId=request_id))["entries"]
    assert by_request == update

    mine = (await audit_page(api, admin, actorId=author.user_id))["entries"]
    assert actions(mine) == ["article.update", "article.publish"]
    first = await audit_page(api, admin, actorId=author.user_id, limit=1)
    assert first["count"] == len(mine)
    second = await audit_page(
        api, admin, actorId=author.user_id, limit=1, cursor=first["nextCursor"]
    )
    assert second["nextCursor"] is None
    assert first["entries"] + second["entries"] == mine


async def test_bad_input_is_refused_in_the_envelope(api: httpx.AsyncClient, admin: Account) -> None:
    cursor = (await listed(api, admin, lambda _: True, limit=1))["nextCursor"]
    assert isinstance(cursor, str), "the admin's registration and role change are listed"
    tampered = ("B" if cursor[0] == "A" else "A") + cursor[1:]
    for query, key in (
        ({"limit": "0"}, "limit"),
        ({"limit": "1000"}, "limit"),
        ({"outcome": "unknown"}, "outcome"),
        ({"since": "not-a-time"}, "since"),
        ({"since": "2025-01-01T00:00:00"}, "since"),
        ({"since": "2025-02-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"}, "until"),
        ({"since": "2023-01-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"}, "until"),
        ({"actorId": "someone"}, "actorId"),
        ({"targetId": "x"}, "targetId"),
        ({"cursor": tampered}, "cursor"),
        ({"cursor": "!!"}, "cursor"),
    ):
        response = await api.get("/api/admin/audit", params=query, headers=admin.headers)
        assert response.status_code == 422, (query, response.text)
        assert list(response.json()["errors"]) == [key], (query, response.text)
    refused = await api.get(STREAM, headers={**admin.headers, "Last-Event-ID": "x"})
    assert refused.status_code == 422
    assert list(refused.json()["errors"]) == ["Last-Event-ID"]


async def test_a_non_admin_is_refused_and_recorded_once_per_route(
    api: httpx.AsyncClient, admin: Account
) -> None:
    nosy = await register(api, "nosy")
    for _ in range(3):
        for path in ("/api/admin/audit", STREAM):
            response = await api.get(path, headers=nosy.headers)
            assert response.status_code == 403, response.text
            assert response.json() == {"errors": {"permission": ["is required: audit:read"]}}
    refused = {"actorId": nosy.user_id, "outcome": "denied"}
    await listed(api, admin, count(2), **refused)
    await asyncio.sleep(0.5)  # five seals: any third entry would be listed by now
    entries = (await audit_page(api, admin, **refused))["entries"]
    assert sorted(e["target"]["id"] for e in entries) == [
        "GET /api/admin/audit",
        "GET /api/admin/audit/stream",
    ]
    for entry in entries:
        assert entry["action"] == "route.access"
        assert entry["reason"] == "missing_permission:audit:read"


async def test_a_user_reads_their_own_history_only(api: httpx.AsyncClient) -> None:
    me, other = await register(api, "me"), await register(api, "other")
    assert (await log_in(api, me)).status_code == 200
    assert (await log_in(api, other)).status_code == 200
    changed = await api.put("/api/user", json={"user": {"bio": "hi"}}, headers=me.headers)
    assert changed.status_code == 200, changed.text
    expected = ["user.update", "user.login", "user.register"]

    async def history() -> httpx.Response | None:
        response = await api.get("/api/user/activity", headers=me.headers)
        assert response.status_code == 200, response.text
        return response if actions(response.json()["entries"]) == expected else None

    response = await eventually(history, within=10, what="the user's history")
    entries: list[dict[str, Any]] = response.json()["entries"]
    assert entries[0]["changes"] == [{"field": "bio", "before": None, "after": "hi"}]
    assert all("hash" not in entry for entry in entries)
    assert other.user_id not in response.text
    assert other.name not in response.text


async def test_the_stream_follows_other_processes_and_resumes_after_last_event_id(
    api: httpx.AsyncClient, admin: Account, env: dict[str, str], workdir: Path
) -> None:
    promoted = await register(api, "promoted")
    newest = (await audit_page(api, admin, limit=1))["entries"][0]["seq"]
    headers = {**admin.headers, "Last-Event-ID": str(newest)}
    async with (
        httpx.AsyncClient(base_url=api.base_url, timeout=30) as streaming,
        streaming.stream("GET", STREAM, headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = http_events(response)
        await asyncio.to_thread(cli_set_role, env, workdir, promoted, "moderator")
        while (event := await next_entry(events)).json()["action"] != "user.role_change":
            pass
        await events.aclose()
    change = event.json()
    assert event.event == "audit"
    assert event.id == str(change["seq"])
    assert change["target"] == {"type": "user", "id": promoted.user_id}
    assert change["actor"]["kind"] == "cli"
    assert change["changes"] == [{"field": "role", "before": "user", "after": "moderator"}]

    late = await register(api, "late")
    headers = {**admin.headers, "Last-Event-ID": str(change["seq"])}
    async with (
        httpx.AsyncClient(base_url=api.base_url, timeout=30) as streaming,
        streaming.stream("GET", STREAM, headers=headers) as response,
    ):
        events = http_events(response)
        resumed = await next_entry(events)
        while resumed.json()["target"]["id"] != late.user_id:
            assert int(resumed.id or 0) > change["seq"]
            resumed = await next_entry(events)
        await events.aclose()
    assert resumed.json()["action"] == "user.register"


async def test_open_streams_hold_no_database_connection(
    api: httpx.AsyncClient, admin: Account
) -> None:
    async with (
        httpx.AsyncClient(base_url=api.base_url, timeout=30) as streaming,
        streaming.stream("GET", STREAM, headers=admin.headers) as first,
        streaming.stream("GET", STREAM, headers=admin.headers) as second,
    ):
        assert (first.status_code, second.status_code) == (200, 200)
        await asyncio.sleep(1)
        for _ in range(POOL + 2):
            listed = await api.get("/api/admin/audit", headers=admin.headers)
            assert listed.status_code == 200, listed.text
            await register(api)
        events = http_events(first)
        joined = await register(api, "joined")
        while (await next_entry(events)).json()["target"]["id"] != joined.user_id:
            pass
        await events.aclose()


def test_the_server_logged_no_failure(server: RunningServer) -> None:
    assert server_failures(server.log()) == []
