"""Realtime fan-out on Redis pub/sub: any process publishes, every process in the room receives."""

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import suppress
from typing import Any, cast

from loguru import logger
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import RedisError
from redis.utils import check_protocol_version

from application.common.errors import DependencyUnavailableError
from application.common.ports.realtime import RealtimeBroadcaster, RoomMessage

_Waiters = list["asyncio.Future[None]"]

_LINK_ERRORS = (RedisError, OSError)


async def _as_is(frame: Any) -> Any:
    """Return a RESP3 push frame unchanged.

    redis-py's default handler formats every push into a debug log line, payload included.
    """
    return frame


def _unavailable() -> DependencyUnavailableError:
    return DependencyUnavailableError("is unavailable; try again shortly", field="realtime")


def _release(waiters: _Waiters) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)


class RedisRealtimeBroadcaster(RealtimeBroadcaster):
    """The `RealtimeBroadcaster` port on Redis PUBLISH and SUBSCRIBE.

    - Room ``r`` is channel ``<channel_prefix>r``. Publishing uses the shared client; every
      broadcaster subscribed to the channel, in any process, receives the message.
    - Receiving uses one dedicated pub/sub connection, taken from the client's pool as a
      redis-py `PubSub`. Its wire is driven here rather than through `PubSub.subscribe`
      and `get_message`: those connect, reconnect, retry and health-check from whichever
      task calls them, so a `join` in one task and the reader in another could reconnect
      the same socket twice, or both read from it. Instead:

      - only the task that "pumps" reads, and it alone (re)connects; one task pumps at a
        time, normally the one iterating `messages`;
      - `join`, `leave` and keepalive PINGs only write, under a lock, and only while the
        connection is live; nothing else writes, so wire order is the order of that lock.

    - `join` returns once Redis has confirmed the SUBSCRIBE. Having written the command is
      not enough: a PUBLISH sent afterwards from another connection can reach the server
      first. Redis runs a connection's commands in order, so once it has replied to
      SUBSCRIBE, every later PUBLISH reaches this connection. The confirmation is read by
      the pumping task and matched to the join that sent the command (replies for a
      channel come back in the order its SUBSCRIBEs were sent). If no task is pumping,
      because `messages` is not being iterated yet, `join` pumps itself; what it reads
      for other rooms is kept for `messages`.
    - Joining is a set: joining twice is joining once, and one `leave` leaves. After
      `leave`, messages still in flight for the room are dropped.
    - The connection is checked with a PING after `keepalive_seconds` without traffic and
      declared dead when the next `keepalive_seconds` bring nothing either. When it drops,
      the pump logs a warning, reconnects with a growing delay (up to
      `max_retry_delay_seconds`) and resubscribes every joined room in one command, and
      logs that once (one warning and one recovery line per outage, however long);
      `messages` does not end. It is a live feed: what is published while disconnected
      is lost. A `join` during an outage returns once the new connection confirms it.
    - Payloads are passed on as bytes, never decoded; room names come from the joined
      set, so nothing is decoded per message.
    - `close` unsubscribes, releases the pub/sub connection to the pool and ends
      `messages`, dropping what it has not yielded; the shared client stays open, since it
      is not this object's to close.
    """

    def __init__(
        self,
        client: "Redis",
        *,
        channel_prefix: str,
        keepalive_seconds: float = 30.0,
        max_retry_delay_seconds: float = 5.0,
    ) -> None:
        self._client = client
        self._prefix = channel_prefix
        self._keepalive = keepalive_seconds
        self._max_delay = max_retry_delay_seconds
        # redis-py internals driven here: tests/integration/test_reliances_redis.py
        protocol = client.connection_pool.get_protocol()  # type: ignore[no-untyped-call]
        resp3 = check_protocol_version(protocol, 3)
        self._pubsub: PubSub = client.pubsub(push_handler_func=_as_is if resp3 else None)
        self._rooms: dict[bytes, str] = {}
        self._unconfirmed: dict[bytes, deque[_Waiters]] = {}
        self._inbox: deque[RoomMessage] = deque()
        self._write_lock = asyncio.Lock()
        self._closed = asyncio.Event()
        self._live = False
        self._dropped = False
        self._ping_sent = False
        self._pumping = False
        self._pump_done: asyncio.Future[None] | None = None

    def _connection(self) -> AbstractConnection | None:
        """The pub/sub connection; redis-py leaves the attribute untyped (inferred as None)."""
        return cast("AbstractConnection | None", self._pubsub.connection)

    def _channel(self, room: str) -> bytes:
        return (self._prefix + room).encode()

    async def publish(self, message: RoomMessage) -> None:
        """PUBLISH on the room's channel; `DependencyUnavailableError` while Redis is down."""
        try:
            await self._client.publish(self._channel(message.room), message.payload)
        except _LINK_ERRORS as exc:
            raise _unavailable() from exc

    async def publish_many(self, messages: Sequence[RoomMessage]) -> None:
        """PUBLISH every message in one pipelined round trip (not a transaction), in order."""
        if not messages:
            return
        pipeline = self._client.pipeline(transaction=False)
        for message in messages:
            pipeline.publish(self._channel(message.room), message.payload)
        try:
            await pipeline.execute()
        except _LINK_ERRORS as exc:
            raise _unavailable() from exc

    async def join(self, room: str) -> None:
        """SUBSCRIBE to the room's channel and wait for Redis to confirm it.

        While Redis is unreachable this waits for the reconnection; callers that cannot
        wait that long bound it with a timeout. It returns at once if the broadcaster is
        closed.
        """
        channel = self._channel(room)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        async with self._write_lock:
            if self._closed.is_set():
                return
            pending = self._unconfirmed.get(channel)
            if channel in self._rooms:
                if pending:
                    pending[-1].append(waiter)
                elif self._live:
                    return
                else:
                    self._unconfirmed[channel] = deque([[waiter]])
            else:
                self._rooms[channel] = room
                self._unconfirmed.setdefault(channel, deque()).append([waiter])
                if self._live:
                    await self._send("SUBSCRIBE", channel)
        await self._until(waiter)

    async def leave(self, room: str) -> None:
        """UNSUBSCRIBE from the room's channel; from now on its messages are dropped."""
        channel = self._channel(room)
        async with self._write_lock:
            if self._rooms.pop(channel, None) is not None and self._live:
                await self._send("UNSUBSCRIBE", channel)

    async def messages(self) -> AsyncIterator[RoomMessage]:
        """What arrives for the joined rooms, in publish order per room, until `close`."""
        inbox = self._inbox
        closed = self._closed
        while not closed.is_set():
            if inbox:
                yield inbox.popleft()
            elif self._pumping:
                await asyncio.wait((self._pump_finished(),))
            else:
                await self._pump()

    async def close(self) -> None:
        """UNSUBSCRIBE, release the pub/sub connection and end `messages`; idempotent."""
        if self._closed.is_set():
            return
        self._closed.set()
        async with self._write_lock:
            self._live = False
            connection = self._connection()
            if self._rooms and connection is not None and connection.is_connected:
                with suppress(*_LINK_ERRORS):
                    await connection.send_command("UNSUBSCRIBE", check_health=False)
            self._rooms.clear()
            for pending in self._unconfirmed.values():
                for waiters in pending:
                    _release(waiters)
            self._unconfirmed.clear()
            self._inbox.clear()
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _send(self, *args: str | bytes) -> None:
        """Write one command on the live connection; the caller holds the write lock.

        A failure only marks the connection lost: the pump reconnects and resubscribes
        every joined room, which covers this command too.
        """
        connection = self._connection()
        if connection is None or not connection.is_connected:
            self._lost("disconnected")
            return
        try:
            await connection.send_command(*args, check_health=False)
        except _LINK_ERRORS as exc:
            self._lost(exc)

    def _lost(self, reason: object) -> None:
        if self._live and not self._closed.is_set():
            logger.warning(
                "realtime: Redis pub/sub connection lost ({}); reconnecting, {} rooms to rejoin",
                reason,
                len(self._rooms),
            )
            self._dropped = True
        self._live = False

    def _pump_finished(self) -> "asyncio.Future[None]":
        """A future set when the current pump step ends; made only when someone waits."""
        if self._pump_done is None:
            self._pump_done = asyncio.get_running_loop().create_future()
        return self._pump_done

    async def _until(self, waiter: "asyncio.Future[None]") -> None:
        """Wait for `waiter`, pumping whenever no other task is."""
        while not waiter.done() and not self._closed.is_set():
            if self._pumping:
                await asyncio.wait(
                    (waiter, self._pump_finished()), return_when=asyncio.FIRST_COMPLETED
                )
            else:
                await self._pump()

    async def _pump(self) -> None:
        """One step of the reader: connect if not live, else read and dispatch one frame."""
        self._pumping = True
        try:
            if self._live:
                await self._read()
            else:
                await self._connect()
        finally:
            self._pumping = False
            done, self._pump_done = self._pump_done, None
            if done is not None:
                done.set_result(None)

    async def _read(self) -> None:
        connection = self._connection()
        if connection is None:
            self._lost("no connection")
            return
        try:
            frame = await connection.read_response(
                disable_decoding=True,
                timeout=self._keepalive,
                disconnect_on_error=False,
                push_request=True,
            )
        except _LINK_ERRORS as exc:
            self._lost(exc)
            return
        if frame is None:
            await self._keep_alive()
            return
        self._ping_sent = False
        if type(frame) is not list:
            return
        kind = frame[0]
        if kind == b"message":
            room = self._rooms.get(frame[1])
            if room is not None:
                self._inbox.append(RoomMessage(room=room, payload=frame[2]))
        elif kind == b"subscribe":
            pending = self._unconfirmed.get(frame[1])
            if pending:
                _release(pending.popleft())
                if not pending:
                    del self._unconfirmed[frame[1]]

    async def _keep_alive(self) -> None:
        """After a quiet `keepalive_seconds`, PING; after two, give the connection up."""
        if self._ping_sent:
            self._lost(f"no reply to PING in {self._keepalive:g}s")
            return
        self._ping_sent = True
        async with self._write_lock:
            if self._live:
                await self._send("PING")

    async def _connect(self) -> None:
        """Connect and subscribe every joined room, retrying with a growing delay."""
        delay = 0.05
        while not self._closed.is_set():
            try:
                async with self._write_lock:
                    if self._closed.is_set():
                        return
                    await self._subscribe_afresh()
            except _LINK_ERRORS as exc:
                if not self._dropped:
                    logger.warning(
                        "realtime: cannot connect to Redis for pub/sub ({}); retrying every "
                        "{:g}s at most until it answers",
                        exc,
                        self._max_delay,
                    )
                    self._dropped = True
            else:
                if self._dropped:
                    self._dropped = False
                    logger.info(
                        "realtime: Redis pub/sub reconnected; rejoined {} rooms", len(self._rooms)
                    )
                return
            with suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), delay)
            delay = min(delay * 2, self._max_delay)

    async def _subscribe_afresh(self) -> None:
        """(Re)open the connection and SUBSCRIBE every joined room; holds the write lock.

        Joins still waiting for a confirmation that the old connection will never bring
        now wait for this SUBSCRIBE's; those for rooms left meanwhile are released.
        """
        self._live = False
        stale_connection = self._connection()
        if stale_connection is not None:
            await stale_connection.disconnect(nowait=True)
        await self._pubsub.connect()  # type: ignore[no-untyped-call]
        connection = self._connection()
        if connection is None:
            raise RedisError("redis-py gave the pub/sub no connection")
        channels = list(self._rooms)
        stale = self._unconfirmed
        self._unconfirmed = {
            channel: deque([[waiter for waiters in stale.pop(channel, ()) for waiter in waiters]])
            for channel in channels
        }
        for pending in stale.values():
            for waiters in pending:
                _release(waiters)
        if channels:
            await connection.send_command("SUBSCRIBE", *channels, check_health=False)
        self._ping_sent = False
        self._live = True
