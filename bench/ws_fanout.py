"""1,000 authenticated WebSocket connections on one API process: fan-out latency and memory.

One `portico serve` process (APP_WORKERS=1: granian's supervisor and one worker) runs in
service mode, on PostgreSQL and Redis, with realtime fan-out over Redis pub/sub. The bench
registers 1,000 users through `POST /api/users`, opens one WebSocket per user on `/ws` and
authenticates each with its own token (`auth`, answered by `auth_ok`). Then, each round,
it publishes one `new_notification` to every user's room from its own process through
`RedisRealtimeBroadcaster.publish_many`: what the worker's `DeliverNotification`
publishes, one message per notification (encoded by `JsonNotificationEncoder`, the
`NotificationEncoder` the container provides, into the recipient's `user_room`), here
batched in one pipeline. The publish time is written in the notification's data; each
socket records when its copy arrived, and the latency is arrival minus publish start.

Reported: p50, p95, p99 and max over all deliveries; deliveries received / expected (all
of them, else exit 1); the server's CPU time per round; the resident memory (VmRSS) of
the worker process that holds the sockets: idle, after the sign-ups, with the sockets
connected, after the rounds, and its peak over the whole run. Targets, reported rather
than asserted: p99 under 200 ms, RSS under 300 MB.

The sockets are held by `--client-processes` processes, as raw asyncio protocols on
uvloop, so that the client costs little on a two-core machine; each measures its own
event-loop lag and CPU time, so a slow client shows as such rather than as a slow server.

Settings of the bench server that are not the defaults, none on the measured path:
RATE_LIMIT_AUTH_PER_IP and RATE_LIMIT_REGISTRATIONS_PER_IP (1,000 sign-ups from one
address), WS_IDLE_TIMEOUT_SECONDS=600 (the clients send nothing after `auth`),
WS_MAX_UNAUTHENTICATED=1000 (the sockets authenticate with the `auth` message, one
request fewer per socket than a ticket; admission is not what this measures),
OUTBOX_RELAY_IN_API=false (the events of the sign-ups stay in the outbox, so that no other
notification reaches the sockets), and a JWT_SECRET.
Password hashing keeps its production cost (PASSWORD_HASH_* are at their minimums), so
the sign-ups take 20 to 40 s; they happen before the sockets open.

    .venv/bin/python bench/ws_fanout.py [--connections 1000] [--rounds 10]

Needs PostgreSQL (`--database-url`, default postgresql://postgres@127.0.0.1:5432/
portico_bench_ws: created if missing and migrated, never dropped; each run adds its 1,000
users) and Redis (`--redis-url`, default redis://127.0.0.1:6379/14; the channels get a
prefix unique to the run).
"""

import argparse
import asyncio
import base64
import hashlib
import json
import multiprocessing
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.network import free_port

from bench.asgi_servers import wait_live

ROOT = Path(__file__).resolve().parents[1]
PORTICO = str(Path(sys.executable).with_name("portico"))
PASSWORD = "bench-password-123"
TARGET_P99_MS = 200.0
TARGET_RSS_MB = 300.0
MB = 1_000_000
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_SENT_AT = "SENT-AT-PLACEHOLDER"
_ROUND = "ROUND-PLACEHOLDER"


# --- the client: raw WebSocket protocols, one process holding a share of the sockets ---------


def _frame(opcode: int, payload: bytes) -> bytes:
    """One masked, final client frame (RFC 6455 §5.2)."""
    size = len(payload)
    if size < 126:
        head = bytes((0x80 | opcode, 0x80 | size))
    elif size < 1 << 16:
        head = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
    mask = os.urandom(4)
    key = int.from_bytes((mask * (size // 4 + 1))[:size], "big")
    return head + mask + (int.from_bytes(payload, "big") ^ key).to_bytes(size, "big")


@dataclass
class Deliveries:
    """What the sockets of one client process received, per round."""

    latencies: dict[int, list[float]] = field(default_factory=dict)
    duplicates: int = 0
    expected: int = 0
    complete: dict[int, asyncio.Event] = field(default_factory=dict)

    def done(self, round_number: int) -> asyncio.Event:
        return self.complete.setdefault(round_number, asyncio.Event())

    def record(self, round_number: int, latency_ms: float) -> None:
        received = self.latencies.setdefault(round_number, [])
        received.append(latency_ms)
        if len(received) >= self.expected:
            self.done(round_number).set()


class Socket(asyncio.Protocol):
    """One WebSocket: upgrade, authenticate, then record each notification's latency."""

    def __init__(self, host: str, deliveries: Deliveries) -> None:
        loop = asyncio.get_running_loop()
        self.upgraded: asyncio.Future[None] = loop.create_future()
        self.authenticated: asyncio.Future[None] = loop.create_future()
        self.close_code: int | None = None
        self._host = host
        self._deliveries = deliveries
        self._key = base64.b64encode(os.urandom(16))
        self._buffer = bytearray()
        self._fragments: list[bytes] | None = None
        self._rounds: set[int] = set()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast("asyncio.Transport", transport)  # uvloop's is not a subclass
        self._transport.write(
            b"GET /ws HTTP/1.1\r\nHost: " + self._host.encode() + b"\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + self._key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )

    def send_text(self, text: str) -> None:
        assert self._transport is not None
        self._transport.write(_frame(0x1, text.encode()))

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(_frame(0x8, (1000).to_bytes(2, "big")))
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        error = ConnectionError(f"closed ({self.close_code or exc or 'by the server'})")
        for future in (self.upgraded, self.authenticated):
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved: a connection that never came up is counted

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self._buffer
        buffer += data
        if not self.upgraded.done():
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end])
            del buffer[: end + 4]
            digest = hashlib.sha1(self._key + _GUID, usedforsecurity=False).digest()
            accept = base64.b64encode(digest)
            if head.startswith(b"HTTP/1.1 101") and accept in head:
                self.upgraded.set_result(None)
            else:
                self.upgraded.set_exception(ConnectionError(head.split(b"\r\n")[0].decode()))
                return
        while len(buffer) >= 2:
            first, second = buffer[0], buffer[1]
            size, start = second & 0x7F, 2
            if size == 126:
                if len(buffer) < 4:
                    return
                size, start = int.from_bytes(buffer[2:4], "big"), 4
            elif size == 127:
                if len(buffer) < 10:
                    return
                size, start = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < start + size:
                return
            payload = bytes(buffer[start : start + size])
            del buffer[: start + size]
            self._on_frame(first & 0x80, first & 0x0F, payload, now)

    def _on_frame(self, final: int, opcode: int, payload: bytes, now: float) -> None:
        if opcode in (0x1, 0x2):
            if final:
                self._on_message(payload, now)
            else:
                self._fragments = [payload]
        elif opcode == 0x0 and self._fragments is not None:
            self._fragments.append(payload)
            if final:
                self._on_message(b"".join(self._fragments), now)
                self._fragments = None
        elif opcode == 0x8:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self.close()
        elif opcode == 0x9 and self._transport is not None:
            self._transport.write(_frame(0xA, payload))

    def _on_message(self, payload: bytes, now: float) -> None:
        message = json.loads(payload)
        kind = message.get("type")
        if kind == "new_notification":
            data = message["data"]["data"]
            round_number = int(data["round"])
            if round_number in self._rounds:
                self._deliveries.duplicates += 1
                return
            self._rounds.add(round_number)
            self._deliveries.record(round_number, (now - float(data["sentAt"])) * 1000)
        elif kind == "auth_ok" and not self.authenticated.done():
            self.authenticated.set_result(None)


async def _open(
    host: str, port: int, token: str, deliveries: Deliveries, gate: asyncio.Semaphore
) -> Socket:
    loop = asyncio.get_running_loop()
    async with gate:
        _, socket = await loop.create_connection(
            lambda: Socket(f"{host}:{port}", deliveries), host, port
        )
        async with asyncio.timeout(30):
            await socket.upgraded
            socket.send_text(json.dumps({"type": "auth", "token": token}))
            await socket.authenticated
    return socket


async def _client(pipe: Connection, port: int, tokens: Sequence[str], concurrency: int) -> None:
    loop = asyncio.get_running_loop()
    deliveries = Deliveries(expected=len(tokens))
    lag = {"max": 0.0}

    async def watch_lag() -> None:
        while True:
            started = loop.time()
            await asyncio.sleep(0.005)
            lag["max"] = max(lag["max"], loop.time() - started - 0.005)

    watcher = asyncio.create_task(watch_lag())
    gate = asyncio.Semaphore(concurrency)
    started = time.perf_counter()
    opened = await asyncio.gather(
        *(_open("127.0.0.1", port, token, deliveries, gate) for token in tokens),
        return_exceptions=True,
    )
    sockets = [item for item in opened if isinstance(item, Socket)]
    deliveries.expected = len(sockets)
    errors = sorted({repr(item) for item in opened if isinstance(item, BaseException)})
    pipe.send(("ready", len(sockets), errors[:5], time.perf_counter() - started))
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    while True:
        command, *args = await asyncio.to_thread(pipe.recv)
        if command == "collect":
            round_number, timeout = args
            with_all = deliveries.done(round_number)
            try:
                async with asyncio.timeout(timeout):
                    await with_all.wait()
            except TimeoutError:
                pass
            now = resource.getrusage(resource.RUSAGE_SELF)
            cpu_ms = (now.ru_utime + now.ru_stime - cpu.ru_utime - cpu.ru_stime) * 1000
            cpu = now
            pipe.send(
                (deliveries.latencies.pop(round_number, []), lag["max"] * 1000, cpu_ms),
            )
            lag["max"] = 0.0
        elif command == "stop":
            closed = [s.close_code for s in sockets if s.close_code is not None]
            for socket in sockets:
                socket.close()
            watcher.cancel()
            pipe.send((deliveries.duplicates, closed))
            return


def client_process(pipe: Connection, port: int, tokens: list[str], concurrency: int) -> None:
    """Entry point of one client process: open and hold its sockets until told to stop."""
    raise_open_files_limit(len(tokens) + 256)
    try:
        import uvloop  # noqa: PLC0415 - optional; the default loop works, only slower
    except ImportError:
        asyncio.run(_client(pipe, port, tokens, concurrency))
    else:
        uvloop.run(_client(pipe, port, tokens, concurrency))


# --- the bench process: database, server, sign-ups, publisher, memory ---------------------


def raise_open_files_limit(needed: int) -> None:
    """Lift RLIMIT_NOFILE to cover `needed` descriptors (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    if wanted < needed:
        raise SystemExit(f"bench: the open-files limit ({hard}) is below the {needed} needed")


def prepare_database(url: str, env: dict[str, str]) -> None:
    """Create the bench database if it is missing, then migrate it with `portico db upgrade`."""
    import psycopg  # noqa: PLC0415 - only the bench process needs it

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if exists.fetchone() is None:
            connection.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([PORTICO, "db", "upgrade"], env=env, cwd=ROOT, check=True)


def _subject(token: str) -> str:
    """The `sub` claim (the user id) of an access token, read without checking it."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sub"])


async def sign_up(base: str, count: int, concurrency: int) -> list[tuple[str, str]]:
    """Register `count` users; their (user id, access token)."""
    run = uuid.uuid4().hex[:8]
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:

        async def one(number: int) -> tuple[str, str]:
            name = f"ws{run}x{number:05d}"
            user = {"username": name, "email": f"{name}@bench.test", "password": PASSWORD}
            async with gate:
                response = await http.post("/api/users", json={"user": user})
            token = str(response.raise_for_status().json()["user"]["token"])
            return _subject(token), token

        return await asyncio.gather(*(one(number) for number in range(count)))


def notification_templates(user_ids: Sequence[str]) -> list[Any]:
    """One encoded `new_notification` per user, as `DeliverNotification` publishes them."""
    from application.common.ports.realtime import (  # noqa: PLC0415 - kept out of the clients
        RoomMessage,
        user_room,
    )
    from domain.notifications.notification import (  # noqa: PLC0415 - kept out of the clients
        Channel,
        Notification,
        NotificationKind,
        Subject,
    )
    from domain.users.values import UserId  # noqa: PLC0415 - kept out of the clients
    from entrypoints.http.schemas.notifications import (  # noqa: PLC0415 - kept out of the clients
        JsonNotificationEncoder,
    )

    encoder = JsonNotificationEncoder()
    author = uuid.uuid4()
    article = uuid.uuid4()

    def notification(user_id: str) -> Notification:
        return Notification(
            id=uuid.uuid4(),
            recipient_id=UserId(uuid.UUID(user_id)),
            kind=NotificationKind.NEW_ARTICLE,
            actor_id=UserId(author),
            subject=Subject(type="article", id=str(article)),
            source=str(uuid.uuid4()),
            channels=frozenset({Channel.IN_APP}),
            created_at=datetime.now(UTC),
            data={
                "actor_username": "bench-author",
                "article_title": "How a thousand sockets hear about one article",
                "article_slug": "how-a-thousand-sockets-hear-about-one-article",
                "sentAt": _SENT_AT,
                "round": _ROUND,
            },
        )

    return [
        RoomMessage(
            user_room(UserId(uuid.UUID(user_id))), encoder.new_notification(notification(user_id))
        )
        for user_id in user_ids
    ]


class MemoryWatch:
    """Samples the VmRSS of the server's processes every 50 ms; keeps the worker's peak."""

    def __init__(self, server_pid: int) -> None:
        self.root = psutil.Process(server_pid)
        self.worker = self.root
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def processes(self) -> list[psutil.Process]:
        return [self.root, *self.root.children(recursive=True)]

    def find_worker(self, port: int) -> None:
        """The process holding the most sockets on the server's port: granian's worker."""

        def held(process: psutil.Process) -> int:
            try:
                # psutil gives an unbound socket `()` as its address, which its stubs do not say.
                return sum(
                    1
                    for c in process.net_connections("tcp")
                    if getattr(c.laddr, "port", None) == port
                )
            except psutil.Error:
                return 0

        self.worker = max(self.processes(), key=lambda p: (held(p), p.pid != self.root.pid))

    def rss(self) -> int:
        return int(self.worker.memory_info().rss)

    def total(self) -> int:
        return sum(int(p.memory_info().rss) for p in self.processes())

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self.peak = max(self.peak, self.rss())
            except psutil.Error:
                return


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    per_round_p99: list[float] = field(default_factory=list)
    per_round_first: list[float] = field(default_factory=list)
    publish_ms: list[float] = field(default_factory=list)
    server_cpu_ms: list[float] = field(default_factory=list)
    client_cpu_ms: list[float] = field(default_factory=list)
    client_lag_ms: list[float] = field(default_factory=list)
    expected: int = 0
    memory: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    closed: list[int] = field(default_factory=list)
    connected: int = 0


def percentile(ordered: Sequence[float], p: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


async def _receive(pipe: Connection, seconds: float) -> Any:
    def wait() -> Any:
        if not pipe.poll(seconds):
            raise TimeoutError("a client process did not answer")
        return pipe.recv()

    return await asyncio.to_thread(wait)


def start_clients(
    args: argparse.Namespace, port: int, tokens: Sequence[str]
) -> tuple[list[Connection], list[Any]]:
    """Spawn the client processes, each with every n-th token; their pipes and processes."""
    context = multiprocessing.get_context("spawn")
    pipes: list[Connection] = []
    processes = []
    for index in range(args.client_processes):
        parent, child = context.Pipe()
        share = list(tokens[index :: args.client_processes])
        process = context.Process(
            target=client_process,
            args=(child, port, share, args.connect_concurrency),
            daemon=True,
        )
        process.start()
        pipes.append(parent)
        processes.append(process)
    return pipes, processes


async def run_round(
    round_number: int,
    *,
    templates: Sequence[Any],
    broadcaster: Any,
    pipes: Sequence[Connection],
    watch: MemoryWatch,
    args: argparse.Namespace,
) -> tuple[list[Any], float, float]:
    """Publish one notification to every room; the clients' answers, publish and CPU ms."""
    from application.common.ports.realtime import (  # noqa: PLC0415 - kept out of the clients
        RoomMessage,
    )

    numbered = [
        RoomMessage(m.room, m.payload.replace(_ROUND.encode(), str(round_number).encode()))
        for m in templates
    ]
    cpu_before = watch.worker.cpu_times()
    sent_at = time.time()
    stamp = repr(sent_at).encode()
    messages = [RoomMessage(m.room, m.payload.replace(_SENT_AT.encode(), stamp)) for m in numbered]
    await broadcaster.publish_many(messages)
    published_ms = (time.time() - sent_at) * 1000
    for pipe in pipes:
        pipe.send(("collect", round_number, args.round_timeout))
    answers = [await _receive(pipe, args.round_timeout + 30) for pipe in pipes]
    cpu_after = watch.worker.cpu_times()
    cpu_ms = (cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system) * 1000
    return answers, published_ms, cpu_ms


async def measure(
    args: argparse.Namespace, port: int, watch: MemoryWatch, results: Results
) -> None:
    """Sign up, connect, run the rounds; fills `results`."""
    from redis.asyncio import Redis  # noqa: PLC0415 - kept out of the clients

    from adapters.redis.realtime import (  # noqa: PLC0415 - kept out of the clients
        RedisRealtimeBroadcaster,
    )

    started = time.perf_counter()
    users = await sign_up(f"http://127.0.0.1:{port}", args.connections, args.sign_up_concurrency)
    print(f"signed up {len(users)} users in {time.perf_counter() - started:.1f} s")
    results.memory["after sign-ups"] = watch.rss()

    pipes, processes = start_clients(args, port, [token for _, token in users])
    client = Redis.from_url(args.redis_url)
    broadcaster = RedisRealtimeBroadcaster(client, channel_prefix=args.channel_prefix)
    try:
        readies = [await _receive(pipe, 300) for pipe in pipes]
        results.connected = sum(ready[1] for ready in readies)
        seconds = max(ready[3] for ready in readies)
        print(f"{results.connected} of {len(users)} sockets authenticated in {seconds:.1f} s")
        for error in sorted({error for ready in readies for error in ready[2]}):
            print(f"  failed: {error}")
        watch.find_worker(port)
        await asyncio.sleep(1)  # let the server settle before measuring its memory
        results.memory[f"{results.connected:,} connected"] = watch.rss()
        templates = notification_templates([user_id for user_id, _ in users])
        for round_number in range(-args.warm_up, args.rounds):
            answers, published_ms, cpu_ms = await run_round(
                round_number,
                templates=templates,
                broadcaster=broadcaster,
                pipes=pipes,
                watch=watch,
                args=args,
            )
            await asyncio.sleep(args.pause)
            if round_number < 0:
                continue
            latencies = [value for answer in answers for value in answer[0]]
            results.latencies += latencies
            results.expected += len(users)
            results.per_round_p99.append(percentile(sorted(latencies), 99))
            results.per_round_first.append(min(latencies, default=float("nan")))
            results.publish_ms.append(published_ms)
            results.server_cpu_ms.append(cpu_ms)
            results.client_lag_ms.append(max(answer[1] for answer in answers))
            results.client_cpu_ms.append(sum(answer[2] for answer in answers))
        results.memory["after the rounds"] = watch.rss()
        for pipe in pipes:
            pipe.send(("stop",))
        for pipe in pipes:
            duplicates, closed = await _receive(pipe, 30)
            results.duplicates += duplicates
            results.closed += closed
    finally:
        await broadcaster.close()
        await client.aclose()
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()


def report(args: argparse.Namespace, results: Results, peak: int) -> bool:
    """Print the table and the verdicts; whether every delivery arrived."""
    ordered = sorted(results.latencies)
    received = len(ordered)
    share = received / results.expected if results.expected else 0.0
    print(
        f"\n{args.connections} sockets ({results.connected} authenticated), one user each, "
        f"1 API worker, {args.client_processes} client process(es), {args.rounds} rounds"
    )
    print(f"{'':28} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}")
    print(
        f"{'publish to socket, ms':28} {percentile(ordered, 50):8.1f} "
        f"{percentile(ordered, 95):8.1f} {percentile(ordered, 99):8.1f} "
        f"{ordered[-1] if ordered else float('nan'):8.1f}"
    )
    print(f"deliveries                   {received}/{results.expected} ({share:.2%})")
    print(f"p99 per round, ms            {' '.join(f'{v:.0f}' for v in results.per_round_p99)}")
    print(f"first per round, ms          {' '.join(f'{v:.0f}' for v in results.per_round_first)}")
    if results.publish_ms:
        print(f"publish_many returned, ms    {statistics.median(results.publish_ms):8.1f} median")
        print(f"server CPU per round, ms     {statistics.mean(results.server_cpu_ms):8.1f} mean")
        print(f"client CPU per round, ms     {statistics.mean(results.client_cpu_ms):8.1f} mean")
        print(f"client loop lag, ms          {max(results.client_lag_ms):8.1f} max over rounds")
    if results.duplicates or results.closed:
        print(f"duplicates {results.duplicates}; closed by the server: {results.closed[:10]}")
    print("\nserver worker RSS (VmRSS)")
    for label, value in results.memory.items():
        print(f"  {label:26} {value / MB:7.1f} MB")
    print(f"  {'peak, sign-ups included':26} {peak / MB:7.1f} MB  (sampled every 50 ms)")

    p99 = percentile(ordered, 99)
    complete = received == results.expected > 0 and results.duplicates == 0
    verdicts = [
        (f"deliveries {received}/{results.expected}", complete),
        (f"p99 {p99:.1f} ms < {TARGET_P99_MS:.0f} ms", p99 < TARGET_P99_MS),
        (f"peak RSS {peak / MB:.1f} MB < {TARGET_RSS_MB:.0f} MB", peak / MB < TARGET_RSS_MB),
    ]
    print()
    for text, held in verdicts:
        print(f"{'PASS' if held else 'MISS'}  {text}")
    return complete


def main() -> None:
    """Migrate, serve, sign up, connect, publish the rounds, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warm-up", type=int, default=1, help="unmeasured rounds first")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between rounds")
    parser.add_argument("--round-timeout", type=float, default=10.0)
    parser.add_argument("--client-processes", type=int, default=1)
    parser.add_argument("--connect-concurrency", type=int, default=32)
    parser.add_argument("--sign-up-concurrency", type=int, default=4)
    parser.add_argument(
        "--database-url", default="postgresql://postgres@127.0.0.1:5432/portico_bench_ws"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument(
        "--server", choices=["granian", "uvicorn"], default="uvicorn", help="APP_SERVER"
    )
    args = parser.parse_args()
    args.channel_prefix = f"bench-ws-{uuid.uuid4().hex[:8]}:"
    raise_open_files_limit(args.connections + 1024)

    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "LOG_LEVEL": "WARNING",
            "DATA_DIR": data_dir,
            "APP_WORKERS": "1",
            "APP_SERVER": args.server,
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "REALTIME_CHANNEL_PREFIX": args.channel_prefix,
            "RATE_LIMIT_AUTH_PER_IP": "1000000",
            "RATE_LIMIT_REGISTRATIONS_PER_IP": "1000000",
            "OUTBOX_RELAY_IN_API": "false",
            "WS_IDLE_TIMEOUT_SECONDS": "600",
            "WS_MAX_UNAUTHENTICATED": "1000",
            # Every socket comes from this one client address: lift the per-address share.
            "WS_MAX_UNAUTHENTICATED_PER_CLIENT": "1000",
            "JWT_SECRET": secrets.token_urlsafe(48),
        }
        prepare_database(args.database_url, env)
        port = free_port()
        log_path = Path(data_dir) / "serve.log"
        with log_path.open("w") as log:
            server = subprocess.Popen(
                [PORTICO, "serve", "--port", str(port)],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        results = Results()
        watch = MemoryWatch(server.pid)
        try:
            wait_live(port, server)
            time.sleep(1)
            watch.find_worker(port)
            results.memory["idle"] = watch.rss()
            watch.start()
            asyncio.run(measure(args, port, watch, results))
            watch.stop()
        finally:
            stopping = time.perf_counter()
            server.terminate()
            code = server.wait(timeout=30)
            print(f"server stopped in {time.perf_counter() - stopping:.1f} s, exit code {code}")
            if text := log_path.read_text().strip():
                print(f"server log (last lines):\n{text[-2000:]}")
    if not report(args, results, max(watch.peak, *results.memory.values())):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
