"""Denial-of-service attacks from one client against a local `portico serve` (issue 28).

Each attack gets a fresh server (`portico serve`, APP_WORKERS=1, granian unless `--server
uvicorn`) on PostgreSQL and, when reachable, Redis. While it runs, a separate process
probes `GET /health/live` on a fresh connection every 100 ms (each with 5 s to answer;
one that does not counts as > 5 s), and a sampler reads the RSS
and CPU time of the server's process tree (the supervisor and its workers, summed). After
each attack the script checks that the server serves normally at once: `/health/live` and
`GET /api/tags` (a database read) answer 200, each within a second. The attackers connect
from 127.0.0.1; the probe and the legitimate WebSocket client from `--bystander`
(127.0.0.2), as an unrelated client would, so that per-address limits apply to the
attacker only (`--bystander 127.0.0.1` shares the attacker's address).

Attacks (`--only NAME`, repeatable) and their targets:

- `slow-headers`: 1,100 and then 3,000 connections, each sending one header line every 3 s
  (reopened when the server closes them); then `idle-keep-alive`: 1,100 connections, each
  sending one request and then nothing. Target: probe p99 < 1 s; serves at once after.
- `ws-unauth`: 1,000 sockets on `/ws` that never authenticate, reopened as they are
  closed, for 35 s, while a registered user connects and authenticates every 2 s.
  Target: every one of the user's attempts gets `auth_ok`.
- `slow-bodies`: 900 connections, each sending all but 10 bytes of a 1 MB body to
  `POST /api/users`, then disconnecting. Target: peak RSS at most the baseline plus
  `--body-rss-budget-mb` (200 MB); RSS within 10% of the baseline a minute later
  (`--settle-seconds`); no 5xx but 503 (a deliberate refusal), no ERROR and no traceback
  in the server's log. The baseline is taken after one `POST /api/users` (a 422).
- `big-frames`: 40 WebSocket text frames of 16 MiB sent before `auth`, one per connection,
  10 at once, under granian and under uvicorn (`--frame-servers`). Target: each
  connection closed before the client could send the whole frame; RSS grows < 20 MB.
- `follow-toggle`: one user follows and unfollows another 400 times in 10 s. Target: some
  answers are 429, every 429 has Retry-After; the victim gets at most one `new_follower`
  notification (docs/notifications.md, "Follows").

Server settings: APP_ENV=production with APP_PUBLIC_URL=https://portico.attack.test (only
used in emailed links), a random JWT_SECRET, the given database, REDIS_URL when Redis
answers, OUTBOX_RELAY_IN_API=true (the notifications of `follow-toggle` are made by the
API process's relay and consumer, as in a single-process deployment), and
RATE_LIMIT_REGISTRATIONS_PER_IP raised so that repeated runs can register their users
(sign-up is not an attack here). Everything else is at its default. The server inherits
the client's open-files limit, raised to the hard limit (as a container's would be).

    make attack
    .venv/bin/python bench/attacks.py --only slow-headers --only ws-unauth
    .venv/bin/python bench/attacks.py --server uvicorn --slow-header-sizes 500,1000

DATABASE_URL picks the PostgreSQL database; unset, a fresh database is created on
`--pg-admin-url` (postgresql://postgres@127.0.0.1:5432/postgres) with psql, migrated, and
dropped at the end. Exit 1 if any target was missed.
"""

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import re
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Self

import httpx
import psutil  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.network import free_port
from tests.support.server import RunningServer, clean_env, portico_server

ROOT = Path(__file__).resolve().parents[1]
PORTICO = str(Path(sys.executable).with_name("portico"))
MB = 1_000_000
PASSWORD = "attack-password-123"
ATTACKS = ("slow-headers", "ws-unauth", "slow-bodies", "big-frames", "follow-toggle")
PROBE_P99_TARGET_S = 1.0
PROBE_TIMEOUT_S = 5.0
AFTER_TARGET_S = 1.0
FRAME_RSS_TARGET_MB = 20.0
SETTLE_TOLERANCE = 0.10
MAX_NEW_FOLLOWER_NOTIFICATIONS = 1
# The source address of the probe and of the legitimate WebSocket client (`--bystander`):
# another loopback address than the attacker's 127.0.0.1, as an unrelated client would be.
BYSTANDER = ["127.0.0.2"]
# A failed request in the server's log: any 5xx but 503 (a deliberate refusal), an error, a
# traceback. The other answers are counted by status.
_SERVER_ERROR = re.compile(
    r"portico\.access \S+ \S+ 5(0[0-24-9]|[1-9]\d) | (ERROR|CRITICAL) |Traceback|unhandled "
)
_ACCESS = re.compile(r"portico\.access \S+ \S+ (\d{3}) ")


# --- measurement: the probe process and the RSS/CPU sampler ---------------------------------


async def _probe_once(port: int, source: str) -> float:
    """One fresh connection's GET /health/live; its latency, or +inf on error or timeout."""
    started = time.perf_counter()
    writer = None
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=(source, 0)
            )
            writer.write(
                b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            )
            head = await reader.readline()
    except (OSError, TimeoutError):
        return math.inf
    finally:
        if writer is not None:
            writer.transport.abort()
    if not head.startswith(b"HTTP/1.1 200"):
        return math.inf
    return time.perf_counter() - started


async def _probe_loop(pipe: Connection, port: int, interval: float, source: str) -> list[float]:
    """Start a probe every `interval` seconds, whether or not the earlier ones answered."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_reader(pipe.fileno(), stop.set)
    probes: list[asyncio.Task[float]] = []
    pipe.send("ready")
    while not stop.is_set():
        probes.append(asyncio.create_task(_probe_once(port, source)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
    loop.remove_reader(pipe.fileno())
    # Probes still waiting when the attack ends have waited at most PROBE_TIMEOUT_S more.
    return list(await asyncio.gather(*probes))


def _probe_process(pipe: Connection, port: int, interval: float, source: str) -> None:
    """Probe until told to stop; send back the latencies (inf: failed or timed out)."""
    latencies = asyncio.run(_probe_loop(pipe, port, interval, source))
    pipe.recv()
    pipe.send(latencies)


@dataclass
class Usage:
    """RSS and CPU of the server's process tree over one attack."""

    baseline_rss: float = 0.0
    peak_rss: float = 0.0
    last_rss: float = 0.0
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0

    @property
    def cpu_percent(self) -> float:
        return 100 * self.cpu_seconds / self.wall_seconds if self.wall_seconds else 0.0


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def tree_rss(pid: int) -> float:
    """Resident memory of `pid` and its descendants, in bytes."""
    total = 0
    for process in _tree(pid):
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return float(total)


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of `pid` and its descendants, per process."""
    seconds = {}
    for process in _tree(pid):
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            seconds[process.pid] = times.user + times.system
    return seconds


class Watch:
    """Probe and sample while the attack runs (a context manager)."""

    def __init__(self, server: RunningServer, port: int) -> None:
        self.pid = server.process.pid
        self.port = port
        self.source = BYSTANDER[0]
        self.usage = Usage()
        self.latencies: list[float] = []
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            rss = tree_rss(self.pid)
            self.usage.peak_rss = max(self.usage.peak_rss, rss)
            self.usage.last_rss = rss

    def __enter__(self) -> Self:
        self.usage.baseline_rss = self.usage.peak_rss = self.usage.last_rss = tree_rss(self.pid)
        self._cpu = tree_cpu(self.pid)
        self._started = time.monotonic()
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._probe = context.Process(
            target=_probe_process, args=(child, self.port, 0.1, self.source)
        )
        self._probe.start()
        if not self._pipe.poll(30):
            raise RuntimeError("the probe process did not start")
        self._pipe.recv()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sampler.join()
        self._pipe.send("stop")
        self.latencies = self._pipe.recv() if self._pipe.poll(PROBE_TIMEOUT_S + 5) else []
        self._probe.join(5)
        cpu = tree_cpu(self.pid)
        self.usage.cpu_seconds = sum(cpu[p] - self._cpu.get(p, 0.0) for p in cpu)
        self.usage.wall_seconds = time.monotonic() - self._started

    def p99(self) -> float:
        return percentile(self.latencies, 99)


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return math.inf
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * pct / 100) - 1)]


def serves_normally(base: str) -> tuple[bool, str]:
    """Right after an attack: /health/live and a database read, each 200 within a second."""
    notes = []
    ok = True
    for path in ("/health/live", "/api/tags", "/health/live", "/api/tags"):
        started = time.perf_counter()
        try:
            status = httpx.get(base + path, timeout=5).status_code
        except httpx.HTTPError as error:
            status, ok = 0, False
            notes.append(f"{path}: {type(error).__name__}")
            continue
        elapsed = time.perf_counter() - started
        if status != 200 or elapsed > AFTER_TARGET_S:
            ok = False
        notes.append(f"{path} {status} {elapsed * 1000:.0f}ms")
    return ok, ", ".join(notes)


# --- results ----------------------------------------------------------------------------------


@dataclass
class Result:
    """One attack's figures and verdict."""

    name: str
    size: str
    server: str
    usage: Usage
    probe_p99: float
    probe_max: float
    probe_failures: int
    probe_count: int
    after_ok: bool
    after: str
    checks: list[tuple[str, bool]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def met(self) -> bool:
        return all(ok for _, ok in self.checks)


def _ms(seconds: float) -> str:
    return f">{PROBE_TIMEOUT_S:g} s" if math.isinf(seconds) else f"{seconds * 1000:.0f} ms"


def _group(*parts: str) -> str:
    return "".join(parts)


def report(result: Result) -> None:
    u = result.usage
    print(f"\n== {result.name} [{result.server}]: {result.size}")
    print(
        f"   server RSS {u.baseline_rss / MB:.1f} MB before, peak {u.peak_rss / MB:.1f} MB "
        f"(+{(u.peak_rss - u.baseline_rss) / MB:.1f}); CPU {u.cpu_seconds:.1f} s over "
        f"{u.wall_seconds:.1f} s ({u.cpu_percent:.0f}% of a core)"
    )
    print(
        f"   probe /health/live: p99 {_ms(result.probe_p99)}, max {_ms(result.probe_max)}, "
        f"{result.probe_failures} failed of {result.probe_count}"
    )
    print(f"   right after: {'normal' if result.after_ok else 'NOT normal'} ({result.after})")
    for note in result.notes:
        print(f"   {note}")
    for check, ok in result.checks:
        print(f"   [{'met' if ok else 'MISSED'}] {check}")


def finish(
    *,
    tally: "Tally | None" = None,
    name: str,
    size: str,
    server: str,
    running: RunningServer,
    watch: Watch,
    checks: list[tuple[str, bool]],
    notes: list[str],
    probe_target: bool,
) -> Result:
    after_ok, after = serves_normally(running.base_url)
    if tally is not None and tally.crashed:
        notes = [*notes, f"{len(tally.crashed)} attacking tasks failed, e.g. {tally.crashed[0]}"]
    latencies = watch.latencies
    result = Result(
        name=name,
        size=size,
        server=server,
        usage=watch.usage,
        probe_p99=watch.p99(),
        probe_max=max(latencies) if latencies else math.inf,
        probe_failures=sum(1 for v in latencies if math.isinf(v)),
        probe_count=len(latencies),
        after_ok=after_ok,
        after=after,
        notes=notes,
    )
    if probe_target:
        checks = [(f"probe p99 {_ms(result.probe_p99)} < 1 s", result.probe_p99 < 1.0), *checks]
    result.checks = [*checks, ("serves normally right after", after_ok)]
    report(result)
    return result


# --- server and database ----------------------------------------------------------------------


@dataclass
class Setup:
    database_url: str
    redis_url: str | None
    workdir: Path
    source: Path | None = None
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    def env(self, server: str, **extra: str) -> dict[str, str]:
        settings = {
            "APP_ENV": "production",
            "APP_PUBLIC_URL": "https://portico.attack.test",
            "APP_SERVER": server,
            "APP_WORKERS": "1",
            "JWT_SECRET": self.jwt_secret,
            "DATABASE_URL": self.database_url,
            "OUTBOX_RELAY_IN_API": "true",
            "RATE_LIMIT_REGISTRATIONS_PER_IP": "10000",
            "LOG_LEVEL": "INFO",
            **extra,
        }
        if self.source is not None:
            settings["PYTHONPATH"] = str(self.source)
        if self.redis_url:
            settings["REDIS_URL"] = self.redis_url
            settings["REALTIME_CHANNEL_PREFIX"] = f"attack{uuid.uuid4().hex[:8]}:"
        return clean_env(**settings)


@contextlib.contextmanager
def started(setup: Setup, server: str) -> Iterator[tuple[RunningServer, int]]:
    port = free_port()
    cwd = Path(tempfile.mkdtemp(prefix=f"{server}-", dir=setup.workdir))
    with portico_server(port, setup.env(server), cwd) as running:
        # Warm the app (first requests import and compile lazily) before any baseline.
        for path in ("/health/live", "/api/tags", "/api/articles?limit=1"):
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(running.base_url + path, timeout=10)
        with contextlib.suppress(httpx.HTTPError):  # the sign-up route, answered with 422
            httpx.post(running.base_url + "/api/users", content=b"{}", timeout=10)
        yield running, port


def export(rev: str, workdir: Path) -> Path:
    """REV's `src` (with `git archive`, which changes nothing in the repository), to put
    first on the server's PYTHONPATH ahead of the editable install's `.pth` entry."""
    target = workdir / ("rev-" + rev.replace("/", "_"))
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev, "src"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target / "src"


def redis_reachable(url: str) -> bool:
    host, _, port = url.split("//", 1)[1].split("/", 1)[0].rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port or 6379)), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def database(admin_url: str, workdir: Path, source: Path | None) -> Iterator[str]:
    """DATABASE_URL, or a fresh database on `admin_url`'s server (dropped afterwards)."""
    given = os.environ.get("DATABASE_URL")
    name = None
    if given:
        url = given
    else:
        name = f"portico_attack_{uuid.uuid4().hex[:8]}"
        subprocess.run(["psql", admin_url, "-qc", f"CREATE DATABASE {name}"], check=True)
        url = admin_url.rsplit("/", 1)[0] + "/" + name
    try:
        migrate = subprocess.run(
            [PORTICO, "db", "upgrade"],
            env=clean_env(
                DATABASE_URL=url, **({"PYTHONPATH": str(source)} if source is not None else {})
            ),
            cwd=workdir,
            capture_output=True,
            text=True,
            check=False,
        )
        if migrate.returncode:
            raise SystemExit(f"attacks: migration failed:\n{migrate.stdout}{migrate.stderr}")
        yield url
    finally:
        if name:
            subprocess.run(
                ["psql", admin_url, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
                check=False,
            )


def register(base: str) -> tuple[str, str]:
    """A new user: (username, token)."""
    name = f"atk{uuid.uuid4().hex[:10]}"
    body = {"user": {"username": name, "email": f"{name}@attack.test", "password": PASSWORD}}
    response = httpx.post(f"{base}/api/users", json=body, timeout=30)
    if response.status_code != 201:
        raise SystemExit(f"attacks: sign-up failed: {response.status_code} {response.text}")
    return name, str(response.json()["user"]["token"])


def run_loop(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    try:
        import uvloop  # noqa: PLC0415 - optional, only cheaper
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())


# --- 1. slow headers and idle keep-alive ------------------------------------------------------


@dataclass
class Tally:
    opened: int = 0
    refused: int = 0
    closed_by_server: int = 0
    responses: int = 0
    crashed: list[str] = field(default_factory=list)

    async def gather(self, *tasks: Awaitable[None]) -> None:
        """Await the attackers; one that fails is recorded (`crashed`), not fatal."""
        for outcome in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(outcome, BaseException):
                self.crashed.append(repr(outcome))


async def _hold(
    port: int, until: float, tally: Tally, gate: asyncio.Semaphore, *, mode: str, interval: float
) -> None:
    """One attacking connection, reopened whenever the server closes it, until `until`."""
    while time.monotonic() < until:
        try:
            async with gate:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port), 10
                )
            tally.opened += 1
        except (OSError, TimeoutError):
            tally.refused += 1
            await asyncio.sleep(0.5)
            continue
        try:
            if mode == "slow":
                writer.write(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                line = 0
                while time.monotonic() < until:
                    await writer.drain()
                    # A read that ends means the server closed the connection.
                    with contextlib.suppress(TimeoutError):
                        data = await asyncio.wait_for(reader.read(65536), interval)
                        if not data:
                            break
                    line += 1
                    writer.write(f"X-Slow-{line}: {'a' * 16}\r\n".encode())
            else:
                writer.write(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                await writer.drain()
                got = await asyncio.wait_for(reader.read(65536), 10)
                if got.startswith(b"HTTP/1.1 "):
                    tally.responses += 1
                while got and time.monotonic() < until:
                    with contextlib.suppress(TimeoutError):
                        got = await asyncio.wait_for(reader.read(65536), 1)
            if time.monotonic() < until:
                tally.closed_by_server += 1
                await asyncio.sleep(0.5)
        except (OSError, TimeoutError, RuntimeError):  # uvloop: write after close
            tally.closed_by_server += 1
            await asyncio.sleep(0.5)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1)


def slow_headers(setup: Setup, args: argparse.Namespace) -> list[Result]:
    results = []
    runs = [("slow", n) for n in args.slow_header_sizes] + [("idle", args.idle_connections)]
    for mode, count in runs:
        with started(setup, args.server) as (running, port):
            tally = Tally()

            async def attack(count: int = count, mode: str = mode, tally: Tally = tally) -> None:
                until = time.monotonic() + args.slow_seconds
                gate = asyncio.Semaphore(200)
                await tally.gather(
                    *(
                        _hold(port, until, tally, gate, mode=mode, interval=args.header_interval)
                        for _ in range(count)
                    )
                )

            with Watch(running, port) as watch:
                run_loop(attack)
            results.append(
                _slow_result(
                    args, mode=mode, count=count, tally=tally, running=running, watch=watch
                )
            )
    return results


def _slow_result(
    args: argparse.Namespace,
    *,
    mode: str,
    count: int,
    tally: Tally,
    running: RunningServer,
    watch: Watch,
) -> Result:
    what = (
        f"{count} connections, one header line every {args.header_interval:g} s"
        if mode == "slow"
        else f"{count} idle keep-alive connections (one request each, then silent)"
    )
    notes = [
        f"{args.slow_seconds:g} s; {tally.opened} connections opened, {tally.refused} "
        f"refused or timed out, {tally.closed_by_server} closed by the server"
        + (f", {tally.responses} responses" if mode == "idle" else "")
    ]
    name = "slow-headers" if mode == "slow" else "idle-keep-alive"
    return finish(
        tally=tally,
        name=name,
        size=what,
        server=args.server,
        running=running,
        watch=watch,
        checks=[],
        notes=notes,
        probe_target=True,
    )


# --- 2. unauthenticated WebSockets and a legitimate client ------------------------------------

_UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


async def _unauthenticated(port: int, until: float, tally: Tally, gate: asyncio.Semaphore) -> None:
    while time.monotonic() < until:
        try:
            async with gate:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port), 10
                )
                writer.write(_UPGRADE)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            tally.refused += 1
            await asyncio.sleep(0.2)
            continue
        if head.startswith(b"HTTP/1.1 101"):
            tally.opened += 1
        else:
            tally.refused += 1
        try:
            while time.monotonic() < until:
                with contextlib.suppress(TimeoutError):
                    if not await asyncio.wait_for(reader.read(65536), 1):
                        tally.closed_by_server += 1
                        break
        except (OSError, RuntimeError):
            tally.closed_by_server += 1
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1)


async def _legitimate(port: int, token: str) -> tuple[bool, float, str]:
    from websockets.asyncio.client import connect  # noqa: PLC0415

    started = time.perf_counter()
    try:
        async with asyncio.timeout(10):
            async with connect(
                f"ws://127.0.0.1:{port}/ws", open_timeout=10, local_addr=(BYSTANDER[0], 0)
            ) as ws:
                await ws.send(json.dumps({"type": "auth", "token": token}))
                while True:
                    message = json.loads(await ws.recv())
                    if message.get("type") == "auth_ok":
                        return True, time.perf_counter() - started, "auth_ok"
                    if message.get("type") == "error":
                        return False, time.perf_counter() - started, str(message)
    except Exception as error:  # noqa: BLE001 - any failure is a failed attempt
        return False, time.perf_counter() - started, f"{type(error).__name__}: {error}"


def ws_unauth(setup: Setup, args: argparse.Namespace) -> list[Result]:
    with started(setup, args.server) as (running, port):
        _, token = register(running.base_url)
        tally = Tally()
        attempts: list[tuple[bool, float, str]] = []
        with Watch(running, port) as watch:

            async def attack() -> None:
                until = time.monotonic() + args.ws_seconds
                gate = asyncio.Semaphore(200)
                sockets = [
                    asyncio.create_task(_unauthenticated(port, until, tally, gate))
                    for _ in range(args.ws_sockets)
                ]
                await asyncio.sleep(min(3.0, args.ws_seconds / 4))  # let the sockets open
                while time.monotonic() < until:
                    tick = time.monotonic()
                    attempts.append(await _legitimate(port, token))
                    await asyncio.sleep(max(0.0, 2.0 - (time.monotonic() - tick)))
                await tally.gather(*sockets)

            run_loop(attack)
        return [_ws_result(args, tally, attempts, running, watch)]


def _ws_result(
    args: argparse.Namespace,
    tally: Tally,
    attempts: list[tuple[bool, float, str]],
    running: RunningServer,
    watch: Watch,
) -> Result:
    failed = [a for a in attempts if not a[0]]
    notes = [
        (
            f"{args.ws_seconds:g} s; {tally.opened} sockets upgraded, {tally.refused} refused, "
            f"{tally.closed_by_server} closed by the server"
        ),
        (
            f"legitimate client: {len(attempts) - len(failed)}/{len(attempts)} got auth_ok, "
            f"slowest {max((a[1] for a in attempts), default=0) * 1000:.0f} ms"
        ),
        *(f"failed attempt: {a[2]}" for a in failed[:3]),
    ]
    checks = [("legitimate client authenticated every time", bool(attempts) and not failed)]
    size = f"{args.ws_sockets} unauthenticated sockets for {args.ws_seconds:g} s"
    return finish(
        tally=tally,
        name="ws-unauth",
        size=size,
        server=args.server,
        running=running,
        watch=watch,
        checks=checks,
        notes=notes,
        probe_target=False,
    )


# --- 3. slow bodies ---------------------------------------------------------------------------


async def _slow_body(port: int, size: int, tally: Tally, sent: asyncio.Event) -> None:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 20)
    except (OSError, TimeoutError):
        tally.refused += 1
        return
    tally.opened += 1
    try:
        writer.write(
            b"POST /api/users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {size}\r\n\r\n".encode()
        )
        chunk = b'{"user":' + b" " * 65_528
        left = size - 10
        while left > 0:
            writer.write(chunk[: min(left, len(chunk))])
            left -= min(left, len(chunk))
            await asyncio.wait_for(writer.drain(), 30)
        tally.responses += 1  # here: bodies sent to within 10 bytes
    except (OSError, TimeoutError, RuntimeError):  # uvloop: write after close
        tally.closed_by_server += 1
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(sent.wait(), 60)
    writer.transport.abort()
    del reader


def slow_bodies(setup: Setup, args: argparse.Namespace) -> list[Result]:
    with started(setup, args.server) as (running, port):
        log_start = len(running.log())
        tally = Tally()
        with Watch(running, port) as watch:

            async def attack() -> None:
                sent = asyncio.Event()
                tasks = [
                    asyncio.create_task(_slow_body(port, args.body_bytes, tally, sent))
                    for _ in range(args.body_connections)
                ]
                deadline = time.monotonic() + args.body_seconds
                done = 0
                while time.monotonic() < deadline and done < len(tasks):
                    await asyncio.sleep(0.1)
                    done = tally.responses + tally.refused + tally.closed_by_server
                await asyncio.sleep(1.0)  # let the server read what is in flight
                sent.set()
                await tally.gather(*tasks)

            run_loop(attack)
        baseline = watch.usage.baseline_rss
        after_attack = tree_rss(running.process.pid)
        time.sleep(args.settle_seconds)
        settled = tree_rss(running.process.pid)
        log = running.log()[log_start:].splitlines()
        failures = [line for line in log if _SERVER_ERROR.search(line)]
        shed: dict[str, int] = {}
        for line in log:
            if match := _ACCESS.search(line):
                shed[match[1]] = shed.get(match[1], 0) + 1
        growth = (watch.usage.peak_rss - baseline) / MB
        notes = [
            (
                f"{tally.opened} connected, {tally.responses} sent all but 10 bytes, "
                f"{tally.closed_by_server} cut off by the server, {tally.refused} refused"
            ),
            (
                f"RSS right after {after_attack / MB:.1f} MB, {args.settle_seconds:g} s later "
                f"{settled / MB:.1f} MB (baseline {baseline / MB:.1f} MB)"
            ),
            "answers in the log: "
            + (", ".join(f"{k} x{v}" for k, v in sorted(shed.items())) or "none but the above"),
            *(f"log: {line[:160]}" for line in failures[:5]),
        ]
        checks = [
            (
                f"peak RSS growth {growth:.1f} MB <= budget {args.body_rss_budget_mb:g} MB",
                growth <= args.body_rss_budget_mb,
            ),
            (
                (
                    f"RSS {args.settle_seconds:g} s later within 10% of baseline "
                    f"({(settled / baseline - 1) * 100:+.1f}%)"
                ),
                abs(settled / baseline - 1) <= SETTLE_TOLERANCE,
            ),
            (
                f"no 5xx but 503, no ERROR or traceback in the log ({len(failures)} lines)",
                not failures,
            ),
        ]
        size = (
            f"{args.body_connections} connections x {args.body_bytes / MB:g} MB body "
            "(all but 10 bytes)"
        )
        return [
            finish(
                tally=tally,
                name="slow-bodies",
                size=size,
                server=args.server,
                running=running,
                watch=watch,
                checks=checks,
                notes=notes,
                probe_target=False,
            )
        ]


# --- 4. big frames before auth ----------------------------------------------------------------


@dataclass
class FrameOutcome:
    sent_all: bool
    sent_bytes: int
    close: str


async def _big_frame(port: int, size: int) -> FrameOutcome:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 20)
    writer.write(_UPGRADE)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 20)
    if not head.startswith(b"HTTP/1.1 101"):
        writer.close()
        return FrameOutcome(sent_all=False, sent_bytes=0, close=head.split(b"\r\n")[0].decode())
    # A final text frame, masked with a zero key (so the payload goes as it is).
    writer.write(bytes((0x81, 0x80 | 127)) + size.to_bytes(8, "big") + b"\0\0\0\0")
    chunk = b"a" * 65_536
    sent = 0
    close = "open"
    closed = asyncio.ensure_future(reader.read(65536))
    try:
        while sent < size:
            step = min(len(chunk), size - sent)
            writer.write(chunk[:step])
            drain = asyncio.ensure_future(writer.drain())
            done, _ = await asyncio.wait(
                {drain, closed}, timeout=20, return_when=asyncio.FIRST_COMPLETED
            )
            if closed in done:
                drain.cancel()
                break
            if not done:
                close = "stalled: the server stopped reading"
                break
            drain.result()
            sent += step
    except (OSError, RuntimeError) as error:
        close = f"reset ({type(error).__name__})"
    if closed.done() or sent >= size:
        close = "reset, no close frame"
        with contextlib.suppress(Exception):
            data = await asyncio.wait_for(closed, 10)
            if len(data) >= 4 and data[0] == 0x88:
                close = f"close frame {int.from_bytes(data[2:4], 'big')}"
            elif not data:
                close = "closed, no close frame"
            else:
                close = f"answer {data[:20]!r}"
    closed.cancel()
    writer.transport.abort()
    return FrameOutcome(sent_all=sent >= size, sent_bytes=sent, close=close)


def big_frames(setup: Setup, args: argparse.Namespace) -> list[Result]:
    results = []
    for server in args.frame_servers:
        with started(setup, server) as (running, port):
            outcomes: list[FrameOutcome | BaseException] = []

            async def attack(outcomes: list[FrameOutcome | BaseException] = outcomes) -> None:
                gate = asyncio.Semaphore(args.frame_concurrency)

                async def one() -> FrameOutcome:
                    async with gate:
                        return await _big_frame(port, args.frame_bytes)

                outcomes.extend(
                    await asyncio.gather(
                        *(one() for _ in range(args.frames)), return_exceptions=True
                    )
                )

            with Watch(running, port) as watch:
                run_loop(attack)
            results.append(_frames_result(args, server, outcomes, running, watch))
    return results


def _frames_result(
    args: argparse.Namespace,
    server: str,
    outcomes: list[FrameOutcome | BaseException],
    running: RunningServer,
    watch: Watch,
) -> Result:
    ok = [o for o in outcomes if isinstance(o, FrameOutcome)]
    buffered = [o for o in ok if o.sent_all]
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    closes: dict[str, int] = {}
    for outcome in ok:
        closes[outcome.close] = closes.get(outcome.close, 0) + 1
    growth = (watch.usage.peak_rss - watch.usage.baseline_rss) / MB
    sent = [o.sent_bytes for o in ok]
    notes = [
        (
            f"bytes the server took before closing: max {max(sent, default=0) / MB:.2f} MB, "
            f"median {sorted(sent)[len(sent) // 2] / MB if sent else 0:.2f} MB"
        ),
        "how they ended: " + ", ".join(f"{k} x{v}" for k, v in sorted(closes.items())),
        *(f"error: {e!r}" for e in errors[:3]),
    ]
    checks = [
        (
            (
                f"every connection closed before its frame was sent ({len(buffered)} of "
                f"{len(outcomes)} sent in full, {len(errors)} errors)"
            ),
            not buffered and not errors and len(ok) == args.frames,
        ),
        (f"RSS growth {growth:.1f} MB < {FRAME_RSS_TARGET_MB:g} MB", growth < FRAME_RSS_TARGET_MB),
    ]
    mib = args.frame_bytes / (1 << 20)
    size = f"{args.frames} frames x {mib:g} MiB, {args.frame_concurrency} at once"
    return finish(
        name="big-frames",
        size=size,
        server=server,
        running=running,
        watch=watch,
        checks=checks,
        notes=notes,
        probe_target=False,
    )


# --- 5. follow toggles ------------------------------------------------------------------------


def follow_toggle(setup: Setup, args: argparse.Namespace) -> list[Result]:
    with started(setup, args.server) as (running, port):
        base = running.base_url
        _, follower = register(base)
        victim_name, victim = register(base)
        statuses: dict[int, int] = {}
        retry_after: list[str | None] = []
        with Watch(running, port) as watch:

            async def attack() -> None:
                headers = {"Authorization": f"Token {follower}"}
                url = f"{base}/api/profiles/{victim_name}/follow"
                spacing = args.follow_seconds / args.follow_toggles
                async with httpx.AsyncClient(headers=headers, timeout=10) as client:

                    async def toggle(number: int) -> None:
                        await asyncio.sleep(number * spacing)
                        method = "POST" if number % 2 == 0 else "DELETE"
                        try:
                            response = await client.request(method, url)
                        except httpx.HTTPError:
                            statuses[0] = statuses.get(0, 0) + 1
                            return
                        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                        if response.status_code == 429:
                            retry_after.append(response.headers.get("retry-after"))

                    await asyncio.gather(*(toggle(n) for n in range(args.follow_toggles)))

            run_loop(attack)
        count, kinds = _settled_notifications(base, victim, args.follow_settle_seconds)
        return [
            _follow_result(
                args,
                statuses=statuses,
                retry_after=retry_after,
                count=count,
                kinds=kinds,
                running=running,
                watch=watch,
            )
        ]


def _follow_result(
    args: argparse.Namespace,
    *,
    statuses: dict[int, int],
    retry_after: list[str | None],
    count: int,
    kinds: dict[str, int],
    running: RunningServer,
    watch: Watch,
) -> Result:
    limited = statuses.get(429, 0)
    with_header = sum(1 for value in retry_after if value)
    notes = [
        "answers: " + ", ".join(f"{k or 'error'} x{v}" for k, v in sorted(statuses.items())),
        f"Retry-After on {with_header} of {limited} 429s"
        + (f" (e.g. {retry_after[0]!r})" if retry_after else ""),
        f"the victim's notifications: {count} new_follower ({kinds})",
    ]
    checks = [
        (
            f"rate-limited: {limited} answers 429, each with Retry-After",
            limited > 0 and with_header == limited,
        ),
        (
            f"victim got {count} new_follower notifications <= {MAX_NEW_FOLLOWER_NOTIFICATIONS}",
            count <= MAX_NEW_FOLLOWER_NOTIFICATIONS,
        ),
    ]
    size = f"{args.follow_toggles} follow/unfollow in {args.follow_seconds:g} s"
    return finish(
        name="follow-toggle",
        size=size,
        server=args.server,
        running=running,
        watch=watch,
        checks=checks,
        notes=notes,
        probe_target=False,
    )


def _settled_notifications(base: str, token: str, within: float) -> tuple[int, dict[str, int]]:
    """The victim's new_follower count once it stops changing (2 s unchanged, or `within`)."""
    headers = {"Authorization": f"Token {token}"}
    deadline = time.monotonic() + within
    last, stable_since = -1, time.monotonic()
    kinds: dict[str, int] = {}
    while True:
        response = httpx.get(f"{base}/api/notifications?limit=100", headers=headers, timeout=10)
        kinds = {}
        for item in response.json().get("notifications", []):
            kinds[item["kind"]] = kinds.get(item["kind"], 0) + 1
        count = kinds.get("new_follower", 0)
        if count != last:
            last, stable_since = count, time.monotonic()
        if (time.monotonic() - stable_since >= 2 and count > 0) or time.monotonic() > deadline:
            return count, kinds
        time.sleep(0.25)


# --- main -------------------------------------------------------------------------------------

RUNNERS: dict[str, Callable[[Setup, argparse.Namespace], list[Result]]] = {
    "slow-headers": slow_headers,
    "ws-unauth": ws_unauth,
    "slow-bodies": slow_bodies,
    "big-frames": big_frames,
    "follow-toggle": follow_toggle,
}


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--only", action="append", choices=ATTACKS, help="repeatable")
    parser.add_argument("--server", choices=("granian", "uvicorn"), default="granian")
    parser.add_argument(
        "--rev", help="serve REV's src (git archive, first on PYTHONPATH) instead of the tree's"
    )
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="'' for none")
    parser.add_argument("--slow-header-sizes", type=_ints, default=[1100, 3000])
    parser.add_argument("--idle-connections", type=int, default=1100)
    parser.add_argument("--header-interval", type=float, default=3.0)
    parser.add_argument("--slow-seconds", type=float, default=15.0)
    parser.add_argument("--ws-sockets", type=int, default=1000)
    parser.add_argument("--ws-seconds", type=float, default=35.0)
    parser.add_argument("--body-connections", type=int, default=900)
    parser.add_argument("--body-bytes", type=int, default=MB)
    parser.add_argument("--body-seconds", type=float, default=30.0, help="max time to send")
    parser.add_argument("--body-rss-budget-mb", type=float, default=200.0)
    parser.add_argument("--settle-seconds", type=float, default=60.0)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--frame-bytes", type=int, default=16 << 20)
    parser.add_argument("--frame-concurrency", type=int, default=10)
    parser.add_argument(
        "--frame-servers", type=lambda s: s.split(","), default=["granian", "uvicorn"]
    )
    parser.add_argument(
        "--bystander",
        default="127.0.0.2",
        help="source address of the probe and the legitimate client (127.0.0.1: the attacker's)",
    )
    parser.add_argument("--follow-toggles", type=int, default=400)
    parser.add_argument("--follow-seconds", type=float, default=10.0)
    parser.add_argument("--follow-settle-seconds", type=float, default=15.0)
    return parser.parse_args(argv)


def main() -> int:
    args = parse_args()
    BYSTANDER[0] = args.bystander
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max([*args.slow_header_sizes, args.idle_connections, args.ws_sockets]) * 2 + 512
    limit = hard if hard == resource.RLIM_INFINITY else max(soft, min(hard, max(wanted, 65536)))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    workdir = Path(tempfile.mkdtemp(prefix="portico-attacks-"))
    redis_url = args.redis_url if args.redis_url and redis_reachable(args.redis_url) else None
    print(
        f"attacks: open files limit {limit} (client and server); Redis {redis_url or 'none'}; "
        f"server logs under {workdir}"
    )
    results: list[Result] = []
    source = export(args.rev, workdir) if args.rev else None
    print(f"attacks: server code from {f'{args.rev} ({source})' if source else 'the working tree'}")
    with database(args.pg_admin_url, workdir, source) as url:
        setup = Setup(database_url=url, redis_url=redis_url, workdir=workdir, source=source)
        for name in args.only or ATTACKS:
            results.extend(RUNNERS[name](setup, args))
    print(
        "\n| attack | server | size | peak RSS (MB, +growth) | CPU | probe p99 | after | target |"
    )
    print("| --- | --- | --- | ---: | ---: | ---: | --- | --- |")
    for r in results:
        u = r.usage
        print(
            f"| {r.name} | {r.server} | {r.size} | {u.peak_rss / MB:.0f} "
            f"(+{(u.peak_rss - u.baseline_rss) / MB:.0f}) | {u.cpu_percent:.0f}% | "
            f"{_ms(r.probe_p99)} | {'ok' if r.after_ok else 'NOT ok'} | "
            f"{'met' if r.met else 'MISSED'} |"
        )
    missed = [f"{r.name}[{r.server}]" for r in results if not r.met]
    if missed:
        print(f"attacks: missed a target: {', '.join(missed)}")
        return 1
    print("attacks: every target met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
