"""The live audit stream on the in-memory adapters: the latest entries, then each new one
as it is written; resuming after Last-Event-ID; ending when the caller may no longer read
it; and counting against the caller's live connections.
"""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from litestar import Litestar

from domain.users.values import Role
from tests.support.audit_http import (
    Account,
    AsgiStream,
    audit_page,
    memory_app,
    register,
    served,
    set_role,
)

STREAM = "/api/admin/audit/stream"


@pytest.fixture
def app(tmp_path: Path) -> Litestar:
    return memory_app(tmp_path)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with served(app) as client:
        yield client


@pytest.fixture
async def admin(app: Litestar, client: httpx.AsyncClient) -> Account:
    account = await register(client, "admin")
    await set_role(app, account, Role.ADMIN)
    return account


async def test_the_stream_sends_the_latest_then_what_happens_after(
    app: Litestar, client: httpx.AsyncClient, admin: Account
) -> None:
    for _ in range(3):
        await register(client)
    listed = (await audit_page(client, admin))["entries"]
    async with AsgiStream(app, STREAM, admin.headers) as stream:
        assert stream.status == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["cache-control"] == "no-store"
        connected = await stream.next_event()
        assert connected.comments == ["connected"]
        backlog = [await stream.next_entry() for _ in listed]
        assert [event.json() for event in backlog] == list(reversed(listed))
        for event in backlog:
            assert event.event == "audit"
            assert event.id == str(event.json()["seq"])

        nosy = await register(client, "nosy")
        assert (await client.get("/api/admin/audit", headers=nosy.headers)).status_code == 403
        registered, refused = await stream.next_entry(), await stream.next_entry()
    assert registered.json()["action"] == "user.register"
    assert registered.json()["target"]["id"] == nosy.user_id
    assert refused.json()["action"] == "route.access"
    assert refused.json()["actor"]["userId"] == nosy.user_id
    assert int(refused.id or 0) == int(registered.id or 0) + 1
    newest = (await audit_page(client, admin, limit=1))["entries"][0]
    assert refused.json() == newest


async def test_the_stream_resumes_after_last_event_id(
    app: Litestar, client: httpx.AsyncClient, admin: Account
) -> None:
    for _ in range(5):
        await register(client)
    listed = list(reversed((await audit_page(client, admin))["entries"]))
    resume_after = listed[2]["seq"]
    headers = {**admin.headers, "Last-Event-ID": str(resume_after)}
    async with AsgiStream(app, STREAM, headers) as stream:
        assert (await stream.next_event()).comments == ["connected"]
        resumed = [(await stream.next_entry()).json() for _ in listed[3:]]
        assert resumed == listed[3:]
        late = await register(client, "late")
        following = (await stream.next_entry()).json()
    assert following["seq"] == listed[-1]["seq"] + 1
    assert following["target"]["id"] == late.user_id


async def test_the_stream_ends_when_the_admin_loses_audit_read(
    app: Litestar, client: httpx.AsyncClient, admin: Account
) -> None:
    async with AsgiStream(app, STREAM, {**admin.headers, "Last-Event-ID": "0"}) as stream:
        assert (await stream.next_event()).comments == ["connected"]
        await set_role(app, admin, Role.USER)
        while (event := await stream.next_event()).event == "audit":
            pass
        assert event.event == "forbidden"
        assert event.data == ["audit:read is required"]
        await stream.read_to_end()


async def test_the_stream_ends_when_its_session_does(
    app: Litestar, client: httpx.AsyncClient, admin: Account
) -> None:
    async with AsgiStream(app, STREAM, {**admin.headers, "Last-Event-ID": "0"}) as stream:
        assert (await stream.next_event()).comments == ["connected"]
        assert (await client.post("/api/auth/logout", headers=admin.headers)).status_code == 204
        while (event := await stream.next_event()).event == "audit":
            pass
        assert event.event == "session_ended"
        await stream.read_to_end()


async def test_streams_count_against_the_callers_live_connections(tmp_path: Path) -> None:
    app = memory_app(tmp_path, WS_MAX_CONNECTIONS_PER_USER="1")
    async with served(app) as client:
        admin = await register(client, "admin")
        await set_role(app, admin, Role.ADMIN)
        async with AsgiStream(app, STREAM, admin.headers) as first:
            assert (await first.next_event()).comments == ["connected"]
            second = await client.get(STREAM, headers=admin.headers)
            assert second.status_code == 429
            assert list(second.json()["errors"]) == ["rate_limit"]
            assert int(second.headers["retry-after"]) >= 1
        await asyncio.sleep(0.05)
        async with AsgiStream(app, STREAM, admin.headers) as third:
            assert third.status == 200
            assert (await third.next_event()).comments == ["connected"]


async def test_an_idle_stream_sends_heartbeats(tmp_path: Path) -> None:
    app = memory_app(tmp_path, WS_HEARTBEAT_SECONDS="0.3")
    async with served(app) as client:
        admin = await register(client, "admin")
        await set_role(app, admin, Role.ADMIN)
        headers = {**admin.headers, "Last-Event-ID": "1000000"}
        async with AsgiStream(app, STREAM, headers) as stream:
            assert (await stream.next_event()).comments == ["connected"]
            beats = [await stream.next_event(within=2) for _ in range(2)]
    assert [(beat.event, beat.comments) for beat in beats] == [(None, ["heartbeat"])] * 2
