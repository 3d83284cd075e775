"""The live dashboard over HTTP, on the in-memory adapters: the page and its assets under a
strict Content-Security-Policy, and the stream: admins only, bad input refused, figures
every tick with the latest audit entries, and the endings the audit stream has too.
"""

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from dishka import Provider, Scope, provide
from litestar import Litestar

from adapters.memory.audit import InMemoryAuditLog
from adapters.memory.dashboard import InMemoryOutboxBacklog
from adapters.memory.sessions import InMemorySessionRepository
from application.audit.ports import AuditFilter, AuditLog
from application.common.errors import DependencyUnavailableError
from application.dashboard.ports import Backlog, OutboxBacklog
from application.users.ports import LiveCaller, SessionRepository
from domain.audit.entry import AuditEntry
from domain.users.values import Role, UserId
from entrypoints.bootstrap import with_signing_secret
from entrypoints.config import load_settings
from entrypoints.http.app import create_app
from entrypoints.http.controllers.dashboard import ASSETS, DASHBOARD_POLICY
from entrypoints.ioc import make_container
from entrypoints.ioc.memory import InMemoryPersistenceProvider
from tests.support.audit_http import (
    UNREACHABLE,
    Account,
    AsgiStream,
    Event,
    audit_page,
    memory_app,
    register,
    served,
    set_role,
)

STREAM = "/api/admin/dashboard/stream"
FIGURES = {
    "at",
    "seconds",
    "requestsPerSecond",
    "errorRate",
    "p50Ms",
    "p99Ms",
    "activeUsers",
    "lastHour",
    "liveConnections",
    "apiProcesses",
    "outbox",
    "jobQueueDepth",
}


@pytest.fixture
def app(tmp_path: Path) -> Litestar:
    return memory_app(tmp_path, DASHBOARD_TICK_SECONDS="0.2")


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with served(app) as client:
        yield client


@pytest.fixture
async def admin(app: Litestar, client: httpx.AsyncClient) -> Account:
    account = await register(client, "admin")
    await set_role(app, account, Role.ADMIN)
    return account


def stream_of(app: Litestar, headers: dict[str, str], query: str = "") -> AsgiStream:
    stream = AsgiStream(app, STREAM, headers)
    stream._scope["query_string"] = query.encode()
    return stream


async def next_figures(stream: AsgiStream) -> dict[str, Any]:
    while (event := await stream.next_event()).event != "figures":
        pass
    return event.json()


# --- The page -----------------------------------------------------------------------------


async def test_the_page_loads_only_its_own_assets_under_a_strict_policy(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/admin")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert policy == DASHBOARD_POLICY
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert "unsafe" not in policy
    html = page.text
    assert "<style" not in html
    assert not re.search(r"\s(style|on[a-z]+)=", html)
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts
    assert all(re.search(r'\bsrc="/admin/assets/', tag) for tag in scripts)
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sorted(url.rsplit("/", 1)[1] for url in urls) == sorted(ASSETS)
    for url in urls:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        name = url.rsplit("/", 1)[1]
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        assert asset.headers["content-type"].startswith(kind)
        assert asset.content == ASSETS[name].body
        assert "immutable" in asset.headers["cache-control"]
        assert asset.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    [
        "/admin/assets/0000000000000000/dashboard.js",
        "/admin/assets/{digest}/not-there.js",
        "/admin/assets/{digest}/..%2fadmin.html",
    ],
)
async def test_an_asset_at_another_digest_or_name_is_not_found(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path.format(digest=ASSETS["dashboard.js"].digest))
    assert response.status_code == 404
    assert "errors" in response.json()


# --- Who may read the stream --------------------------------------------------------------


async def test_the_stream_needs_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get(STREAM)
    assert response.status_code == 401
    assert "errors" in response.json()


async def test_a_user_who_is_not_an_admin_gets_no_figures(
    client: httpx.AsyncClient, admin: Account
) -> None:
    user = await register(client, "nosy")
    response = await client.get(STREAM, headers=user.headers)
    assert response.status_code == 403
    assert response.json() == {"errors": {"permission": ["is required: audit:read"]}}
    newest = (await audit_page(client, admin, limit=1))["entries"][0]
    assert (newest["action"], newest["outcome"]) == ("route.access", "denied")


@pytest.mark.parametrize(
    ("query", "header", "field"),
    [
        ("history=-1", None, "history"),
        ("history=301", None, "history"),
        ("history=abc", None, "history"),
        ("history=1.5", None, "history"),
        ("", "x", "Last-Event-ID"),
        ("", "-1", "Last-Event-ID"),
    ],
)
async def test_bad_input_is_refused_before_any_figure(
    client: httpx.AsyncClient, admin: Account, query: str, header: str | None, field: str
) -> None:
    headers = dict(admin.headers)
    if header is not None:
        headers["Last-Event-ID"] = header
    response = await client.get(f"{STREAM}?{query}", headers=headers)
    assert response.status_code == 422
    assert list(response.json()["errors"]) == [field]


# --- What the stream sends ----------------------------------------------------------------


async def test_the_stream_sends_figures_every_tick_and_the_latest_audit_entries(
    app: Litestar, client: httpx.AsyncClient, admin: Account
) -> None:
    user = await register(client, "reader")
    assert (await client.get("/api/user", headers=user.headers)).status_code == 200
    listed = (await audit_page(client, admin))["entries"]
    async with stream_of(app, admin.headers, "history=7") as stream:
        assert stream.status == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["cache-control"] == "no-store"
        assert (await stream.next_event()).comments == ["connected"]
        first = await stream.next_event()
        assert first.event == "figures"
        figures = first.json()
        assert set(figures) == FIGURES
        at = int(datetime.fromisoformat(figures["at"]).timestamp())
        assert [p["t"] for p in figures["seconds"]] == list(range(at - 8, at - 1))
        assert figures["lastHour"] == {"signups": 0, "articles": 0, "comments": 0}
        assert figures["outbox"]["backlog"] >= 2  # the sign-ups wait: no relay runs here
        assert isinstance(figures["jobQueueDepth"], int)  # the sign-ups mail verification
        entries = [await stream.next_event() for _ in listed]
        assert [e.event for e in entries] == ["audit"] * len(listed)
        assert [e.json() for e in entries] == list(reversed(listed))

        ticks = [await next_figures(stream) for _ in range(3)]
        for tick in ticks:
            assert 1 <= len(tick["seconds"]) <= 5
        stamps = [datetime.fromisoformat(t["at"]) for t in ticks]
        assert stamps == sorted(stamps)
        assert (stamps[-1] - stamps[0]).total_seconds() >= 0.3
        async with asyncio.timeout(3):  # this process reports at most once a second
            while (tick := await next_figures(stream))["liveConnections"] != 1:  # this stream
                pass
        assert tick["activeUsers"] == 2  # the admin and the reader; not the anonymous
        assert tick["apiProcesses"] == 1

        await register(client, "late")
        while (event := await stream.next_event()).event != "audit":
            pass
    assert event.json()["action"] == "user.register"


async def test_requests_show_once_their_seconds_settle(
    app: Litestar, client: httpx.AsyncClient, admin: Account
) -> None:
    for _ in range(5):
        assert (await client.get("/api/articles")).status_code == 200
    assert (await client.get("/api/articles?limit=1000")).status_code == 422
    async with stream_of(app, admin.headers, "history=0") as stream:
        first = await next_figures(stream)
        async with asyncio.timeout(6):
            while (figures := await next_figures(stream))["requestsPerSecond"] < 0.7:
                pass
    assert first["requestsPerSecond"] < 0.7  # the newest seconds are not settled yet
    assert figures["p50Ms"] is not None
    assert figures["p99Ms"] >= figures["p50Ms"]
    assert figures["errorRate"] == 0  # a 422 is the client's mistake, not the server's


async def test_the_stream_resumes_the_entries_after_last_event_id(
    app: Litestar, client: httpx.AsyncClient, admin: Account
) -> None:
    for _ in range(3):
        await register(client)
    listed = list(reversed((await audit_page(client, admin))["entries"]))
    headers = {**admin.headers, "Last-Event-ID": str(listed[1]["seq"])}
    async with stream_of(app, headers, "history=0") as stream:
        assert (await stream.next_event()).comments == ["connected"]
        assert (await stream.next_event()).event == "figures"
        resumed = [await stream.next_event() for _ in listed[2:]]
    assert [event.json() for event in resumed] == listed[2:]
    assert [event.id for event in resumed] == [str(entry["seq"]) for entry in listed[2:]]


async def ending(stream: AsgiStream) -> Event:
    while (event := await stream.next_event()).event in {"figures", "audit", None}:
        pass
    return event


async def test_the_stream_ends_when_the_admin_loses_audit_read(
    app: Litestar, admin: Account
) -> None:
    async with stream_of(app, admin.headers, "history=0") as stream:
        await next_figures(stream)
        await set_role(app, admin, Role.USER)
        event = await ending(stream)
        assert (event.event, event.data) == ("forbidden", ["audit:read is required"])
        await stream.read_to_end()


async def test_the_stream_ends_when_its_session_does(
    app: Litestar, client: httpx.AsyncClient, admin: Account
) -> None:
    async with stream_of(app, admin.headers, "history=0") as stream:
        await next_figures(stream)
        assert (await client.post("/api/auth/logout", headers=admin.headers)).status_code == 204
        event = await ending(stream)
        assert event.event == "session_ended"
        await stream.read_to_end()


async def test_a_full_process_refuses_another_stream(tmp_path: Path) -> None:
    app = memory_app(tmp_path, WS_MAX_LIVE_CONNECTIONS="1")
    async with served(app) as client:
        admin = await register(client, "admin")
        await set_role(app, admin, Role.ADMIN)
        async with stream_of(app, admin.headers, "history=0") as first:
            await next_figures(first)
            refused = await client.get(STREAM, headers=admin.headers)
            assert refused.status_code == 503
            assert int(refused.headers["retry-after"]) >= 1


# --- While the database is down -----------------------------------------------------------


class Outage:
    """Whether the in-memory database answers, as PostgreSQL would or would not."""

    down = False

    @classmethod
    def check(cls) -> None:
        if cls.down:
            raise DependencyUnavailableError("is unavailable; try again shortly", field="database")


class DownSessions(InMemorySessionRepository):
    async def live_caller(
        self, session_id: UUID, user_id: UserId, *, now: datetime
    ) -> LiveCaller | None:
        Outage.check()
        return await super().live_caller(session_id, user_id, now=now)


class DownAuditLog(InMemoryAuditLog):
    async def oldest_first(
        self, *, after_seq: int, limit: int, filters: AuditFilter | None = None
    ) -> Sequence[AuditEntry]:
        Outage.check()
        return await super().oldest_first(after_seq=after_seq, limit=limit, filters=filters)


class DownOutboxBacklog(InMemoryOutboxBacklog):
    async def backlog(self, *, cap: int) -> Backlog:
        Outage.check()
        return await super().backlog(cap=cap)


class DatabaseThatGoesDown(Provider):
    """Pass after `InMemoryPersistenceProvider`: what the stream reads from the database."""

    scope = Scope.REQUEST
    sessions = provide(DownSessions, provides=SessionRepository, override=True)
    audit_log = provide(DownAuditLog, provides=AuditLog, override=True)
    backlog = provide(DownOutboxBacklog, provides=OutboxBacklog, override=True)


async def test_while_the_database_is_down_the_figures_go_on_without_its_parts(
    tmp_path: Path,
) -> None:
    settings = with_signing_secret(
        load_settings(
            {
                "DATABASE_URL": UNREACHABLE,
                "DATA_DIR": str(tmp_path),
                "OUTBOX_RELAY_IN_API": "false",
                "DASHBOARD_TICK_SECONDS": "0.2",
            },
            env_file=None,
        )
    )
    container = make_container(settings, InMemoryPersistenceProvider(), DatabaseThatGoesDown())
    app = create_app(container, settings)
    async with served(app) as client:
        admin = await register(client, "admin")
        await set_role(app, admin, Role.ADMIN)
        async with stream_of(app, admin.headers, "history=0") as stream:
            assert (await next_figures(stream))["outbox"] is not None
            Outage.down = True
            try:
                down = [await next_figures(stream) for _ in range(3)]
                assert [tick["outbox"] for tick in down[1:]] == [None, None]
                assert all(tick["activeUsers"] is not None for tick in down)
                assert (await client.get("/api/user", headers=admin.headers)).status_code == 503
            finally:
                Outage.down = False
            await register(client, "back")
            while (event := await stream.next_event()).event != "audit":
                pass
            assert event.json()["action"] == "user.register"
