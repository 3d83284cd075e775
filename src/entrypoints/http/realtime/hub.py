"""The connection hub: which live connections this process holds, per user room."""

import asyncio
import contextlib
from collections import Counter
from uuid import UUID

from loguru import logger

from adapters.inprocess.metrics import NO_METRICS
from application.common.ports.metrics import LiveChannel, LiveConnectionMetrics
from application.common.ports.realtime import RealtimeBroadcaster, user_room
from application.users.live_sessions import read_sessions_ended
from domain.users.values import UserId
from entrypoints.http.realtime.admission import WaitingRoom

JOIN_TIMEOUT_SECONDS = 5.0
"""How long a new connection waits for its room to be joined before it is refused."""
_ROUTER_RESTART_MAX_SECONDS = 5.0


class TooManyConnectionsError(Exception):
    """The user already holds as many live connections here as the settings allow."""


class ServerFullError(Exception):
    """The process already holds WS_MAX_LIVE_CONNECTIONS live sockets and streams."""


class RealtimeUnavailableError(Exception):
    """The broadcaster could not join the user's room in time (Redis slow or down)."""


class LiveConnection:
    """One socket or stream of one user, with its own bounded queue of outgoing messages.

    The hub only ever offers messages without waiting, so a slow client fills its own queue
    and nobody else's. When the queue is full the connection is marked `overflowed`, and
    its owner drops it. When the session that opened it ends, it is marked `ended`, and
    its owner closes it; `session_id` is that session, kept current by its owner when the
    client authenticates again.
    """

    def __init__(
        self,
        user_id: UserId,
        *,
        session_id: UUID | None,
        queue_size: int,
        channel: LiveChannel = LiveChannel.WEBSOCKET,
    ) -> None:
        self.user_id = user_id
        self.session_id = session_id
        self.channel = channel
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self.overflowed = asyncio.Event()
        self.shutting_down = asyncio.Event()
        self.ended = asyncio.Event()

    def offer(self, message: str) -> bool:
        """Queue the message; False (and marked overflowed) when the client is too far behind."""
        if self.overflowed.is_set():
            return False
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed.set()
            return False
        return True


class ConnectionHub:
    """Routes what the broadcaster delivers to the connections of each user in this process.

    A control message saying some of the user's sessions ended is not forwarded: the
    connections those sessions opened are marked `ended` instead.

    The process joins a user's room when their first connection arrives and leaves it with
    the last, so the broadcaster only carries messages somebody here can receive.

    Which connections exist is bookkeeping done at once, with no waiting; joining and
    leaving the broadcaster's rooms follows it, one room at a time (`_reconcile`), so a
    slow or unreachable Redis delays only the connections of the room concerned, and a
    connection that closes never waits for anything.

    Each connection attached or place held is counted while it lasts (the `metrics` given
    to `start`), as a WebSocket or an SSE stream.
    """

    def __init__(self, *, queue_size: int, max_per_user: int) -> None:
        self._queue_size = queue_size
        self._max_per_user = max_per_user
        self._rooms: dict[str, set[LiveConnection]] = {}
        self._subscribed: set[str] = set()
        self._room_locks: dict[str, asyncio.Lock] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._broadcaster: RealtimeBroadcaster | None = None
        self._task: asyncio.Task[None] | None = None
        self._emptied = asyncio.Event()
        self._emptied.set()
        self._live = 0
        self._held: Counter[str] = Counter()
        self._metrics: LiveConnectionMetrics = NO_METRICS
        self.stopping = asyncio.Event()
        """Set when the process stops: streams held with `hold` end on it."""
        self.waiting = WaitingRoom()
        """The sockets that have not authenticated yet: admission.py."""

    def start(
        self, broadcaster: RealtimeBroadcaster, *, metrics: LiveConnectionMetrics = NO_METRICS
    ) -> None:
        """Start routing what the broadcaster delivers, and counting connections in `metrics`."""
        self._broadcaster = broadcaster
        self._metrics = metrics
        self._task = asyncio.create_task(self._route(broadcaster), name="realtime-hub")

    async def stop(self, *, grace_seconds: float = 1.0) -> None:
        """Tell every connection the server is going away, give them a moment, stop routing."""
        self.stopping.set()
        for connections in self._rooms.values():
            for connection in connections:
                connection.shutting_down.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._emptied.wait(), timeout=grace_seconds)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def unauthenticated(self) -> int:
        """Sockets accepted here that have not authenticated yet."""
        return self.waiting.total

    @property
    def live(self) -> int:
        """Live sockets and streams attached here, all users together."""
        return self._live

    def has_room_for(self, user_id: UserId) -> bool:
        """Whether the user may open one more connection on this process."""
        room = user_room(user_id)
        return len(self._rooms.get(room, ())) + self._held[room] < self._max_per_user

    def hold(self, user_id: UserId, *, max_live: int) -> "HeldPlace":
        """A place for a stream fed from elsewhere (the audit log), spending the same budgets.

        It joins no room and receives nothing; it counts against the user's connections and
        the process's live ones until released. Raises ServerFullError or
        TooManyConnectionsError as `attach` does.
        """
        if self._live >= max_live:
            raise ServerFullError
        if not self.has_room_for(user_id):
            raise TooManyConnectionsError
        room = user_room(user_id)
        self._held[room] += 1
        self._live += 1
        self._metrics.live_connection_opened(LiveChannel.SSE)
        return HeldPlace(self, room)

    def _release(self, room: str) -> None:
        self._held[room] -= 1
        if not self._held[room]:
            del self._held[room]
        self._live -= 1
        self._metrics.live_connection_closed(LiveChannel.SSE)

    async def attach(
        self,
        user_id: UserId,
        *,
        session_id: UUID | None,
        join_timeout_seconds: float = JOIN_TIMEOUT_SECONDS,
        max_live: int | None = None,
        channel: LiveChannel = LiveChannel.WEBSOCKET,
    ) -> LiveConnection:
        """A connection opened by the user's `session_id`, fed their room's messages on return.

        Raises ServerFullError when `max_live` connections are attached already,
        TooManyConnectionsError, or RealtimeUnavailableError when the room cannot be joined
        within `join_timeout_seconds` (the connection is then forgotten).
        """
        if self._broadcaster is None:
            raise RuntimeError("the hub is not started")
        if max_live is not None and self._live >= max_live:
            raise ServerFullError
        if not self.has_room_for(user_id):
            raise TooManyConnectionsError
        room = user_room(user_id)
        connection = LiveConnection(
            user_id, session_id=session_id, queue_size=self._queue_size, channel=channel
        )
        self._rooms.setdefault(room, set()).add(connection)
        self._live += 1
        self._metrics.live_connection_opened(channel)
        self._emptied.clear()
        try:
            async with asyncio.timeout(join_timeout_seconds):
                await self._reconcile(room)
        except Exception as exc:
            self.detach(connection)
            raise RealtimeUnavailableError(str(exc) or type(exc).__name__) from exc
        return connection

    def detach(self, connection: LiveConnection) -> None:
        """Forget the connection at once; the room is left in the background if it emptied."""
        room = user_room(connection.user_id)
        connections = self._rooms.get(room)
        if connections is None or connection not in connections:
            return
        connections.discard(connection)
        self._live -= 1
        self._metrics.live_connection_closed(connection.channel)
        if connections:
            return
        del self._rooms[room]
        if not self._rooms:
            self._emptied.set()
        task = asyncio.create_task(self._reconcile_quietly(room), name=f"leave:{room}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _reconcile(self, room: str) -> None:
        """Join or leave `room` so the broadcaster matches whether anyone here is in it."""
        assert self._broadcaster is not None  # noqa: S101 - set by start()
        lock = self._room_locks.setdefault(room, asyncio.Lock())
        async with lock:
            wanted = room in self._rooms
            if wanted and room not in self._subscribed:
                await self._broadcaster.join(room)
                self._subscribed.add(room)
            elif not wanted and room in self._subscribed:
                self._subscribed.discard(room)
                await self._broadcaster.leave(room)
        if room not in self._rooms and room not in self._subscribed and not lock.locked():
            self._room_locks.pop(room, None)

    async def _reconcile_quietly(self, room: str) -> None:
        try:
            await self._reconcile(room)
        except Exception:  # noqa: BLE001 - a room left late only carries unwanted messages
            logger.exception("could not leave realtime room {}", room)

    async def _route(self, broadcaster: RealtimeBroadcaster) -> None:
        """Deliver each message to the room's connections; restart after a failure."""
        delay = 0.1
        while True:
            try:
                async for message in broadcaster.messages():
                    delay = 0.1
                    connections = self._rooms.get(message.room)
                    if not connections:
                        continue
                    ended = read_sessions_ended(message.payload)
                    if ended is not None:
                        for connection in tuple(connections):
                            if ended.ends(connection.session_id):
                                connection.ended.set()
                        continue
                    text = message.payload.decode()
                    for connection in tuple(connections):
                        connection.offer(text)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - live delivery must outlive any one failure
                logger.exception("the realtime hub's reader failed; restarting in {:.1f}s", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _ROUTER_RESTART_MAX_SECONDS)
            else:
                return


class HeldPlace(contextlib.AbstractContextManager["HeldPlace"]):
    """One stream's place in the hub's budgets; released once, at the latest when the block ends."""

    def __init__(self, hub: ConnectionHub, room: str) -> None:
        self._hub = hub
        self._room: str | None = room

    def release(self) -> None:
        """Give the place back; releasing twice is harmless."""
        if self._room is not None:
            room, self._room = self._room, None
            self._hub._release(room)  # noqa: SLF001 - the hub's own bookkeeping

    def __exit__(self, *_: object) -> None:
        self.release()
