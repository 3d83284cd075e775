"""Ending a session ends its live channels, against `portico serve` on PostgreSQL.

The attack: after `logout-all` (or a lost device revoked, or a ban), HTTP answers 401 but
a WebSocket and an SSE stream opened with the session's token stay open, still receiving
notifications until the token expires. Here each such end closes the session's sockets
with 4401 "session ended" and its streams with ``event: session_ended``, within a second
of the answer, while the user's other sessions keep theirs.

Servers: one embedded-mode server (the realtime fan-out inside the process); and two API
processes sharing Redis, where the sessions end through one process (or the `portico
users ban` command) and the channels live on the other.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from tests.support.live_clients import (
    Account,
    SseEvent,
    authenticate,
    closed_with,
    next_message,
    send_json,
    server_failures,
    sse_events,
)
from tests.support.network import free_port
from tests.support.postgres import isolated_schema, run_alembic
from tests.support.server import RunningServer, clean_env, portico_server, run_portico

pytestmark = pytest.mark.e2e

WITHIN_SECONDS = 1.0
"""The issue's bound: from the answer that ends the session to the channel closed."""
HEARTBEAT = 0.3
SESSION_ENDED_CLOSE = (4401, "session ended")
STREAM = "/api/notifications/stream"


def server_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    return clean_env(
        DATABASE_URL=database_url,
        DATA_DIR=str(data_dir),
        RATE_LIMIT_AUTH_PER_IP="100000",
        RATE_LIMIT_REGISTRATIONS_PER_IP="100000",
        WS_HEARTBEAT_SECONDS=str(HEARTBEAT),
        **extra,
    )


def assert_no_failures(*servers: RunningServer) -> None:
    for server in servers:
        failures = server_failures(server.log())
        assert not failures, "the server logged failures:\n" + "\n".join(failures[:40])


@pytest.fixture(scope="module")
def embedded_env(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return server_env(migrated_url, tmp_path_factory.mktemp("live-sessions-data"))


@pytest.fixture(scope="module")
def server(
    embedded_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    with portico_server(free_port(), embedded_env, tmp_path_factory.mktemp("live-sessions")) as s:
        yield s
    assert_no_failures(s)


@pytest.fixture
async def api(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        yield client


# --- helpers -------------------------------------------------------------------------------


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


async def current_session(api: httpx.AsyncClient, token: str) -> str:
    response = await api.get("/api/auth/sessions", headers=headers(token))
    assert response.status_code == 200, response.text
    (current,) = [item for item in response.json()["sessions"] if item["current"]]
    return str(current["id"])


@asynccontextmanager
async def live_stream(base_url: str, token: str) -> AsyncIterator[AsyncGenerator[SseEvent, None]]:
    """An SSE stream opened with `token`, past its ``connected`` comment."""
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=10) as client,
        client.stream("GET", STREAM, headers=headers(token)) as response,
    ):
        assert response.status_code == 200, await response.aread()
        events = sse_events(response)
        async with asyncio.timeout(5):
            first = await anext(events)
        assert "connected" in first.comments, first
        try:
            yield events
        finally:
            await events.aclose()


@asynccontextmanager
async def live_socket(base_url: str, token: str) -> AsyncIterator[ClientConnection]:
    ws, _ = await authenticate(base_url, token, ticket=True)
    try:
        yield ws
    finally:
        await ws.close()


async def stream_ending(events: AsyncGenerator[SseEvent, None]) -> tuple[str | None, bool]:
    """The first event other than heartbeats and notifications; whether the stream then ended.

    Notifications are the stream's ordinary traffic until it ends, as messages are for a
    socket (`closed_with` reads past them): the sign-in that opened a session sends its
    user a "new sign-in" notice, which may still be on its way through the outbox when
    the test ends the session.
    """
    async for event in events:
        if event.event not in (None, "new_notification"):
            break
    else:
        return None, True
    rest = [event async for event in events]
    return event.event, rest == []


async def assert_all_closed(
    sockets: list[ClientConnection], streams: list[AsyncGenerator[SseEvent, None]]
) -> None:
    """Each socket closed with 4401 "session ended" and each stream ended with
    ``session_ended``, all within WITHIN_SECONDS of now."""
    started = time.monotonic()
    async with asyncio.timeout(WITHIN_SECONDS):
        closes, endings = await asyncio.gather(
            asyncio.gather(*(closed_with(ws, within=WITHIN_SECONDS) for ws in sockets)),
            asyncio.gather(*(stream_ending(events) for events in streams)),
        )
    took = time.monotonic() - started
    assert all(close == SESSION_ENDED_CLOSE for close in closes), closes
    assert all(ending == ("session_ended", True) for ending in endings), endings
    assert took < WITHIN_SECONDS, took


async def assert_still_open(
    sockets: list[ClientConnection], streams: list[AsyncGenerator[SseEvent, None]]
) -> None:
    """Each socket still answers a ping, and each stream still sends heartbeats.

    Notifications on the way are read past, on both (see `stream_ending`).
    """
    for index, ws in enumerate(sockets):
        await send_json(ws, {"type": "ping", "id": f"alive-{index}"})
        await next_message(ws, "pong", answering=f"alive-{index}", within=2)
    for events in streams:
        async with asyncio.timeout(2):
            event = await anext(events)
            while event.event == "new_notification":
                event = await anext(events)
        assert event.event is None, event
        assert event.comments == ["heartbeat"], event


# --- one process ---------------------------------------------------------------------------


async def test_logout_all_closes_every_socket_and_stream_of_the_user(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    user = await Account.register(api)
    other_device = await user.log_in(api)
    bystander = await Account.register(api)
    url = server.base_url
    async with (
        live_socket(url, user.token) as socket,
        live_socket(url, other_device) as other_socket,
        live_stream(url, user.token) as stream,
        live_stream(url, other_device) as other_stream,
        live_socket(url, bystander.token) as bystanders_socket,
        live_stream(url, bystander.token) as bystanders_stream,
    ):
        response = await api.post("/api/auth/logout-all", headers=user.headers)
        assert response.status_code == 204, response.text
        await assert_all_closed([socket, other_socket], [stream, other_stream])
        await assert_still_open([bystanders_socket], [bystanders_stream])
    assert (await api.get("/api/user", headers=user.headers)).status_code == 401


async def test_revoking_a_session_closes_only_that_sessions_channels(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    user = await Account.register(api)
    lost_device = await user.log_in(api)
    lost_session = await current_session(api, lost_device)
    url = server.base_url
    async with (
        live_socket(url, lost_device) as lost_socket,
        live_stream(url, lost_device) as lost_stream,
        live_socket(url, user.token) as kept_socket,
        live_stream(url, user.token) as kept_stream,
    ):
        response = await api.delete(f"/api/auth/sessions/{lost_session}", headers=user.headers)
        assert response.status_code == 204, response.text
        await assert_all_closed([lost_socket], [lost_stream])
        await asyncio.sleep(2 * HEARTBEAT)
        await assert_still_open([kept_socket], [kept_stream])


async def test_logout_closes_only_the_callers_session_channels(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    user = await Account.register(api)
    other_device = await user.log_in(api)
    url = server.base_url
    async with (
        live_socket(url, user.token) as socket,
        live_stream(url, user.token) as stream,
        live_socket(url, other_device) as other_socket,
        live_stream(url, other_device) as other_stream,
    ):
        response = await api.post("/api/auth/logout", headers=user.headers)
        assert response.status_code == 204, response.text
        await assert_all_closed([socket], [stream])
        await asyncio.sleep(2 * HEARTBEAT)
        await assert_still_open([other_socket], [other_stream])


async def test_a_ban_closes_every_socket_and_stream_of_the_user(
    server: RunningServer,
    api: httpx.AsyncClient,
    embedded_env: dict[str, str],
    tmp_path: Path,
) -> None:
    admin, user = await Account.register(api), await Account.register(api)
    promoted = run_portico("users", "set-role", admin.name, "admin", env=embedded_env, cwd=tmp_path)
    assert promoted.returncode == 0, promoted.stderr
    url = server.base_url
    async with live_socket(url, user.token) as socket, live_stream(url, user.token) as stream:
        response = await api.post(f"/api/admin/users/{user.name}/ban", headers=admin.headers)
        assert response.status_code == 204, response.text
        await assert_all_closed([socket], [stream])


async def test_a_socket_authenticated_again_follows_its_new_session(
    server: RunningServer, api: httpx.AsyncClient
) -> None:
    """The socket answers to the session of its latest `auth`, not its first."""
    user = await Account.register(api)
    second = await user.log_in(api)
    async with live_socket(server.base_url, user.token) as socket:
        await send_json(socket, {"type": "auth", "token": second, "id": "again"})
        await next_message(socket, "auth_ok", answering="again")
        response = await api.post("/api/auth/logout", headers=user.headers)
        assert response.status_code == 204, response.text
        await assert_still_open([socket], [])
        response = await api.post("/api/auth/logout", headers=headers(second))
        assert response.status_code == 204, response.text
        await assert_all_closed([socket], [])


# --- two API processes on Redis ------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_env(
    postgres_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """Service mode on a schema of its own, with Redis channels of its own."""
    with isolated_schema(postgres_url, prefix="livesessions") as url:
        run_alembic(url, "upgrade", "head")
        yield server_env(
            url,
            tmp_path_factory.mktemp("live-sessions-shared"),
            REDIS_URL=redis_url,
            REALTIME_CHANNEL_PREFIX=f"ls{uuid.uuid4().hex[:10]}:rt:",
        )


@pytest.fixture(scope="module")
def two_servers(
    shared_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningServer, RunningServer]]:
    cwd = tmp_path_factory.mktemp("live-sessions-pair")
    with (
        portico_server(free_port(), shared_env, cwd) as first,
        portico_server(free_port(), shared_env, cwd) as second,
    ):
        yield first, second
    assert_no_failures(first, second)


async def test_logout_all_on_one_process_closes_channels_on_another(
    two_servers: tuple[RunningServer, RunningServer],
) -> None:
    first, second = two_servers
    async with AsyncExitStack() as stack:
        api = await stack.enter_async_context(
            httpx.AsyncClient(base_url=first.base_url, timeout=10)
        )
        user = await Account.register(api)
        socket = await stack.enter_async_context(live_socket(second.base_url, user.token))
        stream = await stack.enter_async_context(live_stream(second.base_url, user.token))
        response = await api.post("/api/auth/logout-all", headers=user.headers)
        assert response.status_code == 204, response.text
        await assert_all_closed([socket], [stream])


async def test_the_ban_command_closes_channels_on_every_process(
    two_servers: tuple[RunningServer, RunningServer],
    shared_env: dict[str, str],
    tmp_path: Path,
) -> None:
    first, second = two_servers
    async with httpx.AsyncClient(base_url=first.base_url, timeout=10) as api:
        user = await Account.register(api)
    async with (
        live_socket(first.base_url, user.token) as on_first,
        live_stream(second.base_url, user.token) as on_second,
    ):
        banned = await asyncio.to_thread(
            run_portico, "users", "ban", user.name, env=shared_env, cwd=tmp_path
        )
        assert banned.returncode == 0, banned.stderr
        await assert_all_closed([on_first], [on_second])
