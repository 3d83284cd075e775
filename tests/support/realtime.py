"""Helpers of the `RealtimeBroadcaster` contract tests: readers, "processes", a Redis proxy.

`Reader` drains a broadcaster's messages in a task of its own; `Process` is one broadcaster
and the Redis client it publishes on; `Proxy` sits between a client and Redis and can hold
back or black-hole what it carries, to stand for a slow or half-open network.
"""

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from redis.asyncio import Redis
from redis.asyncio.connection import parse_url

from application.common.ports.realtime import RealtimeBroadcaster, RoomMessage

TIMEOUT = 10.0


class Reader:
    """Drains `messages()` in a task of its own, as the connection hub does."""

    def __init__(self, broadcaster: RealtimeBroadcaster) -> None:
        self.received: asyncio.Queue[RoomMessage] = asyncio.Queue()
        self.task = asyncio.create_task(self._drain(broadcaster))

    async def _drain(self, broadcaster: RealtimeBroadcaster) -> None:
        async for message in broadcaster.messages():
            self.received.put_nowait(message)

    async def next(self) -> RoomMessage:
        async with asyncio.timeout(TIMEOUT):
            return await self.received.get()

    async def next_payloads(self, count: int) -> list[bytes]:
        return [(await self.next()).payload for _ in range(count)]

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


class Process:
    """One broadcaster and, for Redis, the client it publishes on: one "process"."""

    def __init__(
        self, broadcaster: RealtimeBroadcaster, client: "Redis | None", prefix: str, name: str
    ) -> None:
        self.broadcaster = broadcaster
        self.client = client
        self.prefix = prefix
        self.name = name
        self.readers: list[Reader] = []

    def read(self) -> Reader:
        reader = Reader(self.broadcaster)
        self.readers.append(reader)
        return reader


MakeProcess = Callable[[], Process]


@dataclass
class _Link:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    black_hole: bool = False


class Proxy:
    """A TCP proxy in front of Redis that can hold back or black-hole what it carries.

    - `hold()` stops forwarding from clients to Redis until `release()`: commands wait in
      the proxy, as on a slow network.
    - `black_hole()` silently drops everything on the connections open now, in both
      directions, without closing them: a half-open connection. New connections work.
    """

    def __init__(self, redis_url: str) -> None:
        self._target = parse_url(redis_url)
        self._passing = asyncio.Event()
        self._passing.set()
        self._server: asyncio.Server | None = None
        self._links: list[_Link] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        """Listen, and return a Redis URL that goes through the proxy."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        credentials = ""
        if self._target.get("password") is not None:
            user = quote(self._target.get("username") or "")
            credentials = f"{user}:{quote(self._target['password'])}@"
        return f"redis://{credentials}127.0.0.1:{port}/{self._target.get('db', 0)}"

    def hold(self) -> None:
        self._passing.clear()

    def release(self) -> None:
        self._passing.set()

    def black_hole(self) -> None:
        for link in self._links:
            link.black_hole = True

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in self._links:
            link.client.close()
            link.upstream.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        if "path" in self._target:
            upstream_in, upstream_out = await asyncio.open_unix_connection(self._target["path"])
        else:
            upstream_in, upstream_out = await asyncio.open_connection(
                self._target.get("host", "localhost"), self._target.get("port", 6379)
            )
        link = _Link(client_out, upstream_out)
        self._links.append(link)
        for task in (
            asyncio.create_task(self._pipe(client_in, upstream_out, link, holdable=True)),
            asyncio.create_task(self._pipe(upstream_in, client_out, link, holdable=False)),
        ):
            self._tasks.add(task)

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        link: _Link,
        *,
        holdable: bool,
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                if holdable:
                    await self._passing.wait()
                if link.black_hole:
                    continue
                sink.write(data)
                await sink.drain()
        if not link.black_hole:
            sink.close()
