"""Sockets `portico serve` ends on its own: a reader that falls behind, a server stopping.

Servers, each on a migrated schema of its own (not the session's): one with a send queue
of 2 and long timeouts, for the client that stops reading; and a short-lived one that is
stopped under an open socket. Neither may log a 5xx, an error or a traceback.
"""

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from tests.support.live_clients import (
    Account,
    authenticate,
    authenticated,
    closed_with,
    eventually,
    next_message,
    receive_json,
    send_json,
    server_failures,
    stalled_socket,
)
from tests.support.network import free_port
from tests.support.notifications_protocol import assert_no_failures, comment, publish
from tests.support.postgres import isolated_schema, run_alembic
from tests.support.server import RunningServer, clean_env, portico_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def own_schema_url(postgres_url: str) -> Iterator[str]:
    """A second migrated schema: two embedded-mode servers on one outbox would each relay
    the other's events, and deliver them to their own in-memory realtime broadcaster."""
    with isolated_schema(postgres_url, prefix="slowreader") as url:
        run_alembic(url, "upgrade", "head")
        yield url


@pytest.fixture(scope="module")
def slow_reader_server(
    own_schema_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """A send queue of 2; heartbeats and the idle timeout far away, so only pushes count."""
    env = clean_env(
        WS_MAX_UNAUTHENTICATED="1000",  # these sockets authenticate with the auth message
        DATABASE_URL=own_schema_url,
        DATA_DIR=str(tmp_path_factory.mktemp("slow-reader-data")),
        RATE_LIMIT_AUTH_PER_IP="100000",
        RATE_LIMIT_REGISTRATIONS_PER_IP="100000",
        RATE_LIMIT_COMMENTS_PER_USER="100000",  # a comment flood fills the slow socket
        WS_SEND_QUEUE_SIZE="2",
        WS_HEARTBEAT_SECONDS="30",
        WS_IDLE_TIMEOUT_SECONDS="30",
    )
    cwd = tmp_path_factory.mktemp("slow-reader")
    with portico_server(free_port(), env, cwd) as running:
        yield running
    assert_no_failures(running)


async def test_a_client_that_stops_reading_is_dropped_1013_and_only_that_one(
    slow_reader_server: RunningServer,
) -> None:
    """The stalled reader announces a tiny window and MSS (see `stalled_socket`), so the
    server's writes to it block after some dozens of notifications and its queue of 2
    overflows; the same user's other socket keeps receiving everything.

    How many pushes the kernel absorbs before a write blocks varies from run to run, so the
    test pushes in batches until the server reports the drop, within a generous bound.
    """
    server = slow_reader_server
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as api:
        author, commenter = await Account.register(api), await Account.register(api)
        slug = await publish(api, author)
        stalled, _ = await authenticate(
            server.base_url, author.token, sock=stalled_socket(server.base_url), max_queue=1
        )
        try:
            async with authenticated(server.base_url, author.token) as (healthy, _):
                await _overflow_only_the_stalled_socket(
                    server, api, healthy=healthy, stalled=stalled, commenter=commenter, slug=slug
                )
        finally:
            await stalled.close()


_DROPPED_FOR_OVERFLOW = "its send queue of 2 overflowed"


async def _overflow_only_the_stalled_socket(
    server: RunningServer,
    api: httpx.AsyncClient,
    *,
    healthy: ClientConnection,
    stalled: ClientConnection,
    commenter: Account,
    slug: str,
) -> None:
    batch, most = 8, 1600
    pushes = 0
    pushed: list[dict[str, Any]] = []

    async def drain() -> None:
        while True:
            message = await receive_json(healthy, within=60)
            if message["type"] == "new_notification":
                pushed.append(message)

    reader = asyncio.create_task(drain())
    while _DROPPED_FOR_OVERFLOW not in server.log():
        assert pushes < most, f"the stalled socket was never dropped after {pushes} pushes"
        await asyncio.gather(*(comment(api, commenter, slug) for _ in range(batch)))
        pushes += batch

    async def all_pushed() -> bool:
        assert not reader.done(), (
            f"the healthy socket ended after {len(pushed)} pushes: {reader.exception()!r}"
        )
        return len(pushed) == pushes

    await eventually(all_pushed, within=30, what=f"{pushes} pushes to the healthy socket")
    reader.cancel()
    seen: list[dict[str, Any]] = []
    code, reason = await closed_with(stalled, within=10, seen=seen)
    assert code == 1013, (
        f"the stalled socket ended with {code} {reason!r} after {len(seen)} messages"
    )
    assert reason == "send queue overflowed"
    assert len([m for m in seen if m["type"] == "new_notification"]) < pushes
    await send_json(healthy, {"type": "ping", "id": "alive"})
    assert await next_message(healthy, "pong", answering="alive")
    await comment(api, commenter, slug)
    after = await next_message(healthy, "new_notification")
    assert after["data"]["kind"] == "new_comment"


async def test_stopping_the_server_ends_live_sockets_at_once(
    own_schema_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = clean_env(
        WS_MAX_UNAUTHENTICATED="1000",  # these sockets authenticate with the auth message
        DATABASE_URL=own_schema_url,
        DATA_DIR=str(tmp_path_factory.mktemp("shutdown-data")),
        RATE_LIMIT_AUTH_PER_IP="100000",
        RATE_LIMIT_REGISTRATIONS_PER_IP="100000",
    )
    with portico_server(free_port(), env, tmp_path_factory.mktemp("shutdown")) as running:
        async with httpx.AsyncClient(base_url=running.base_url, timeout=10) as api:
            user = await Account.register(api)
        ws, _ = await authenticate(running.base_url, user.token)
        exit_code, took = await asyncio.to_thread(running.stop)
        code, reason = await closed_with(ws)
        log = running.log()
    assert exit_code == 0, log
    assert took < 10, took
    assert not server_failures(log), log
    assert code in {1001, None}, (
        f"on SIGTERM an open socket ended with {code} ({reason}): 1001 where the server "
        "lets the app close it, no close frame (1006) where granian drops it first"
    )
