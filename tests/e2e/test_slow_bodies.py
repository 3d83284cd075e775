"""Slow and abandoned request bodies against `portico serve`: bounded, answered, logged quietly.

A short version of the attack in issue 28: a hundred connections each send all but ten
bytes of a body. The server keeps answering; the bodies that stall get 408 at the deadline,
the ones whose clients leave are one INFO line each, and none is a 500 or a traceback.
"""

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import TypedDict

import httpx
import pytest

from tests.support.network import free_port
from tests.support.server import RunningServer, clean_env, portico_server

pytestmark = pytest.mark.e2e

SLOW = 100
BODY = 40_000
BUDGET = 4_500_000  # the hundred bodies (4 MB) fit; one more of 1 MB does not
TIMEOUT_SECONDS = 3


@pytest.fixture(scope="module")
def server(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = clean_env(
        DATABASE_URL=migrated_url,
        DATA_DIR=str(tmp_path_factory.mktemp("slow-bodies-data")),
        RATE_LIMIT_REGISTRATIONS_PER_IP="1000",
        APP_BODY_READ_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS),
        APP_BODY_BUFFER_BUDGET_BYTES=str(BUDGET),
    )
    with portico_server(free_port(), env, tmp_path_factory.mktemp("slow-bodies")) as running:
        yield running


def _head(length: int) -> bytes:
    return (
        "POST /api/users HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


async def _send_all_but_ten(
    port: int, length: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_head(length) + b"x" * (length - 10))
    await writer.drain()
    return reader, writer


async def _status(reader: asyncio.StreamReader, within: float) -> str:
    line = await asyncio.wait_for(reader.readline(), timeout=within)
    return line.decode().split(" ")[1] if line else "closed"


async def _register(client: httpx.AsyncClient) -> int:
    name = f"u{uuid.uuid4().hex[:12]}"
    user = {"username": name, "email": f"{name}@test.com", "password": "password123"}
    return (await client.post("/api/users", json={"user": user})).status_code


class Outcome(TypedDict):
    live: int
    registered: int
    probe_seconds: float
    refused: str
    retry_after: bool
    stalled: list[str]


async def _attack(server: RunningServer) -> Outcome:
    port = int(server.base_url.rsplit(":", 1)[1])
    slow = await asyncio.gather(*(_send_all_but_ten(port, BODY) for _ in range(SLOW)))
    await asyncio.sleep(0.3)  # every body has reached the server and is held
    over_budget = await _send_all_but_ten(port, 1_048_576)
    refused = await _status(over_budget[0], within=2)
    refused_headers = (await asyncio.wait_for(over_budget[0].read(4096), timeout=2)).lower()
    over_budget[1].close()
    leaving, staying = slow[: SLOW // 2], slow[SLOW // 2 :]
    for _, writer in leaving:
        writer.transport.abort()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=5) as client:
        started = time.monotonic()
        live = (await client.get("/health/live")).status_code
        registered = await _register(client)
        probe_seconds = time.monotonic() - started
    stalled = await asyncio.gather(*(_status(r, within=TIMEOUT_SECONDS + 5) for r, _ in staying))
    for _, writer in staying:
        writer.close()
    return {
        "live": live,
        "registered": registered,
        "probe_seconds": probe_seconds,
        "refused": refused,
        "retry_after": b"retry-after: 2" in refused_headers,
        "stalled": stalled,
    }


def test_slow_bodies_are_bounded_cut_off_at_the_deadline_and_leaving_is_no_error(
    server: RunningServer,
) -> None:
    started = time.monotonic()
    outcome = asyncio.run(_attack(server))
    assert outcome["live"] == 200
    assert outcome["registered"] == 201
    assert outcome["probe_seconds"] < 2  # the slow bodies hold no place in the queue
    assert outcome["refused"] == "503"
    assert outcome["retry_after"]
    assert outcome["stalled"] == ["408"] * (SLOW - SLOW // 2)
    assert time.monotonic() - started < TIMEOUT_SECONDS + 8

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        log = server.log()
        if log.count("client disconnected after") >= SLOW // 2:
            break
        time.sleep(0.1)
    lines = log.splitlines()
    left = [line for line in lines if "client disconnected after" in line]
    assert len(left) == SLOW // 2
    assert all(
        " INFO " in line and f"of {BODY} body bytes on POST /api/users" in line for line in left
    )
    assert sum(" POST /api/users 499 " in line for line in lines) == SLOW // 2
    assert sum(" POST /api/users 408 " in line for line in lines) == SLOW - SLOW // 2
    assert not [line for line in lines if " 500 " in line or "unhandled" in line]
    assert "Traceback" not in log
    assert asyncio.run(_register_once(server.base_url)) == 201  # the budget came back


async def _register_once(base_url: str) -> int:
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        return await _register(client)
