"""Issue 28: slow and idle connections must not stop `portico serve` answering.

Before the fix, about 1,100 connections sending one header line every few seconds, or 1,100
keep-alive connections gone silent after one request, filled granian's 1,024 connection
slots and /health/live stopped answering. These are short versions of both attacks, with
raw sockets: a fresh probe must answer within a second throughout, the attackers must be cut
off by the server's own timeouts, and the server must serve normally afterwards.
"""

import asyncio
import resource
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.network import free_port
from tests.support.server import RunningServer, clean_env, portico_server

pytestmark = pytest.mark.e2e

ATTACKERS = 1100
"""Just past granian's old 1,024 connections per worker."""
HEAD_TIMEOUT = 1
PROBE_LIMIT = 1.0
PROBE_GIVE_UP = 5.0


@dataclass
class Attack:
    """What the attacking connections saw."""

    opened: int = 0
    refused: int = 0
    cut_off: int = 0
    closed_at: list[float] = field(default_factory=list)


def raise_open_files_limit(needed: int) -> None:
    """This process holds every attacking socket: let it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        ceiling = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))


async def _open(
    host: str, port: int, attack: Attack
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    try:
        pair = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
    except (OSError, TimeoutError):
        attack.refused += 1
        return None
    attack.opened += 1
    return pair


async def _until_closed(
    reader: asyncio.StreamReader, attack: Attack, started: float, stop: asyncio.Event
) -> bool:
    """Read (and drop) until the server closes the connection; False if `stop` came first."""
    while not stop.is_set():
        try:
            data = await asyncio.wait_for(reader.read(4096), 0.5)
        except TimeoutError:
            continue
        except OSError:
            data = b""
        if not data:
            attack.cut_off += 1
            attack.closed_at.append(time.monotonic() - started)
            return True
    return False


async def slow_header_client(
    host: str, port: int, attack: Attack, stop: asyncio.Event, every: float
) -> None:
    """A request line, then one header line every `every` seconds, never the blank line."""
    pair = await _open(host, port, attack)
    if pair is None:
        return
    reader, writer = pair
    started = time.monotonic()
    closed = asyncio.create_task(_until_closed(reader, attack, started, stop))
    try:
        writer.write(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
        line = 0
        while not closed.done() and not stop.is_set():
            await asyncio.wait({closed}, timeout=every)
            if not closed.done():
                writer.write(b"X-Slow-%d: x\r\n" % line)
                line += 1
    except OSError:
        pass
    finally:
        await closed
        writer.close()


async def idle_keepalive_client(host: str, port: int, attack: Attack, stop: asyncio.Event) -> None:
    """One complete request on a keep-alive connection, then silence."""
    pair = await _open(host, port, attack)
    if pair is None:
        return
    reader, writer = pair
    started = time.monotonic()
    try:
        writer.write(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        await _until_closed(reader, attack, started, stop)
    except OSError:
        pass
    finally:
        writer.close()


async def probe(host: str, port: int) -> float:
    """Seconds a fresh connection's GET /health/live takes to its status line; inf on failure."""
    started = time.monotonic()

    async def exchange() -> bytes:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(b"GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return await reader.readuntil(b"\r\n")
        finally:
            writer.close()

    try:
        status_line = await asyncio.wait_for(exchange(), PROBE_GIVE_UP)
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return float("inf")
    return time.monotonic() - started if b" 200 " in status_line else float("inf")


@dataclass
class Outcome:
    """An attack's result: the attackers' view and the probe latencies during and after."""

    attack: Attack
    during: list[float]
    after: list[float]

    @property
    def p99(self) -> float:
        ordered = sorted(self.during)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def run_attack(
    host: str,
    port: int,
    *,
    kind: str,
    connections: int,
    seconds: float,
    every: float = 1.0,
) -> Outcome:
    """Open `connections` attackers of `kind` (`slow` or `idle`), probe for `seconds`, stop."""
    attack, stop = Attack(), asyncio.Event()
    tasks = []
    for index in range(connections):
        client = (
            slow_header_client(host, port, attack, stop, every)
            if kind == "slow"
            else idle_keepalive_client(host, port, attack, stop)
        )
        tasks.append(asyncio.create_task(client))
        if index % 200 == 199:
            await asyncio.sleep(0.02)
    during = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        during.append(await probe(host, port))
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.gather(*tasks)
    after = [await probe(host, port) for _ in range(5)]
    return Outcome(attack, during, after)


def _serve(migrated_url: str, cwd: Path, **settings: str) -> Iterator[RunningServer]:
    raise_open_files_limit(ATTACKERS * 2 + 1024)
    env = clean_env(
        DATABASE_URL=migrated_url,
        APP_HEADER_READ_TIMEOUT_SECONDS=str(HEAD_TIMEOUT),
        APP_KEEPALIVE_TIMEOUT_SECONDS=str(HEAD_TIMEOUT),
        LOG_LEVEL="WARNING",
        **settings,
    )
    with portico_server(free_port(), env, cwd) as running:
        yield running


@pytest.fixture(scope="module")
def server(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """granian, the default server."""
    yield from _serve(migrated_url, tmp_path_factory.mktemp("limits"))


@pytest.fixture(scope="module")
def uvicorn_server(
    migrated_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    yield from _serve(migrated_url, tmp_path_factory.mktemp("limits-uvicorn"), APP_SERVER="uvicorn")


def _address(server: RunningServer) -> tuple[str, int]:
    host, port = server.base_url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def _assert_held(outcome: Outcome) -> None:
    assert outcome.attack.opened == ATTACKERS, outcome.attack
    assert max(outcome.during) < PROBE_GIVE_UP, f"a probe failed: {sorted(outcome.during)[-5:]}"
    assert outcome.p99 < PROBE_LIMIT, sorted(outcome.during)[-5:]
    assert outcome.attack.cut_off == ATTACKERS, "the server's timeout did not close every attacker"
    assert max(outcome.attack.closed_at) < HEAD_TIMEOUT + 3, max(outcome.attack.closed_at)
    assert max(outcome.after) < PROBE_LIMIT, outcome.after


def test_slow_header_clients_are_cut_off_and_block_no_one(server: RunningServer) -> None:
    outcome = asyncio.run(
        run_attack(
            *_address(server), kind="slow", connections=ATTACKERS, seconds=HEAD_TIMEOUT + 2.5
        )
    )
    _assert_held(outcome)


def test_idle_keepalive_clients_are_cut_off_and_block_no_one(server: RunningServer) -> None:
    outcome = asyncio.run(
        run_attack(
            *_address(server), kind="idle", connections=ATTACKERS, seconds=HEAD_TIMEOUT + 2.5
        )
    )
    _assert_held(outcome)


def test_uvicorn_cuts_off_slow_and_silent_clients_too(uvicorn_server: RunningServer) -> None:
    """uvicorn has no header timeout of its own; `portico serve` adds one, from the first byte."""
    host, port = _address(uvicorn_server)
    silent = socket.create_connection((host, port), timeout=HEAD_TIMEOUT + 3)
    outcome = asyncio.run(
        run_attack(host, port, kind="slow", connections=ATTACKERS, seconds=HEAD_TIMEOUT + 2.5)
    )
    _assert_held(outcome)
    with silent:
        assert silent.recv(1024) == b"", "a client that sends nothing must be cut off as well"
