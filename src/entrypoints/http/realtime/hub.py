"""The connection hub: which live connections this process holds, per user room."""

import asyncio
import contextlib

from loguru import logger

from application.notifications.views import user_room
from application.ports.messaging import RealtimeBroadcaster
from domain.users.values import UserId


class TooManyConnectionsError(Exception):
    """The user already holds as many live connections here as the settings allow."""


class LiveConnection:
    """One socket or stream of one user, with its own bounded queue of outgoing messages.

    The hub only ever offers messages without waiting, so a slow client fills its own queue
    and nobody else's. When the queue is full the connection is marked `overflowed`, and
    its owner drops it.
    """

    def __init__(self, user_id: UserId, *, queue_size: int) -> None:
        self.user_id = user_id
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=queue_size)
        self.overflowed = asyncio.Event()
        self.shutting_down = asyncio.Event()

    def offer(self, payload: bytes) -> bool:
        """Queue the message; False (and marked overflowed) when the client is too far behind."""
        if self.overflowed.is_set():
            return False
        try:
            self.queue.put_nowait(payload)
        except asyncio.QueueFull:
            self.overflowed.set()
            return False
        return True


class ConnectionHub:
    """Routes what the broadcaster delivers to the connections of each user in this process.

    The process joins a user's room when their first connection arrives and leaves it with
    the last, so the broadcaster only carries messages somebody here can receive.
    """

    def __init__(self, *, queue_size: int, max_per_user: int) -> None:
        self._queue_size = queue_size
        self._max_per_user = max_per_user
        self._rooms: dict[str, set[LiveConnection]] = {}
        self._broadcaster: RealtimeBroadcaster | None = None
        self._task: asyncio.Task[None] | None = None
        self._membership = asyncio.Lock()
        self._emptied = asyncio.Event()

    def start(self, broadcaster: RealtimeBroadcaster) -> None:
        """Start routing what the broadcaster delivers."""
        self._broadcaster = broadcaster
        self._task = asyncio.create_task(self._route(broadcaster), name="realtime-hub")

    async def stop(self, *, grace_seconds: float = 1.0) -> None:
        """Tell every connection the server is going away, give them a moment, stop routing."""
        connections = [c for room in self._rooms.values() for c in room]
        for connection in connections:
            connection.shutting_down.set()
        if connections:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._emptied.wait(), timeout=grace_seconds)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def connection_count(self) -> int:
        """Live connections held by this process."""
        return sum(len(connections) for connections in self._rooms.values())

    async def attach(self, user_id: UserId) -> LiveConnection:
        """A new connection for the user, joined to their room before this returns."""
        if self._broadcaster is None:
            raise RuntimeError("the hub is not started")
        room = user_room(user_id)
        async with self._membership:
            connections = self._rooms.get(room)
            if connections is not None and len(connections) >= self._max_per_user:
                raise TooManyConnectionsError
            connection = LiveConnection(user_id, queue_size=self._queue_size)
            self._emptied.clear()
            if connections is None:
                await self._broadcaster.join(room)
                connections = self._rooms.setdefault(room, set())
            connections.add(connection)
        return connection

    async def detach(self, connection: LiveConnection) -> None:
        """Forget the connection; leave the room when it was the user's last here."""
        room = user_room(connection.user_id)
        async with self._membership:
            connections = self._rooms.get(room)
            if connections is None:
                return
            connections.discard(connection)
            if not connections:
                del self._rooms[room]
                if not self._rooms:
                    self._emptied.set()
                if self._broadcaster is not None:
                    try:
                        await self._broadcaster.leave(room)
                    except Exception:  # noqa: BLE001 - the socket is gone either way
                        logger.exception("could not leave realtime room {}", room)

    async def _route(self, broadcaster: RealtimeBroadcaster) -> None:
        try:
            async for message in broadcaster.messages():
                for connection in tuple(self._rooms.get(message.room, ())):
                    connection.offer(message.payload)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("the realtime hub stopped; live connections get no more messages")
            raise
