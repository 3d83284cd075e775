"""Realtime fan-out in process memory: one process, so publish and receive meet in a queue."""

import asyncio
from collections.abc import AsyncIterator, Sequence

from application.common.ports.realtime import RealtimeBroadcaster, RoomMessage


class InProcessRealtimeBroadcaster(RealtimeBroadcaster):
    """The `RealtimeBroadcaster` port for a single process (tests, embedded mode).

    - A publish is delivered to this broadcaster's reader only if the room is joined at that
      moment; other instances are other "processes" and receive nothing.
    - Joining is a set: joining twice is joining once, and one `leave` leaves.
    - The queue is unbounded because its consumer, the connection hub, drains it as fast as
      messages arrive and hands each one to its sockets without waiting on them.
    - `messages` ends once `close` is called; what it has not yielded by then is dropped.
    """

    def __init__(self) -> None:
        self._rooms: set[str] = set()
        self._queue: asyncio.Queue[RoomMessage | None] = asyncio.Queue()
        self._closed = False

    async def publish(self, message: RoomMessage) -> None:
        """Queue the message for the reader if its room is joined."""
        if message.room in self._rooms:
            self._queue.put_nowait(message)

    async def publish_many(self, messages: Sequence[RoomMessage]) -> None:
        """Publish each message, in order."""
        rooms = self._rooms
        for message in messages:
            if message.room in rooms:
                self._queue.put_nowait(message)

    async def join(self, room: str) -> None:
        """Receive the room's messages from now on; effective before it returns."""
        if not self._closed:
            self._rooms.add(room)

    async def leave(self, room: str) -> None:
        """Receive nothing more published to the room; leaving a room not joined is harmless."""
        self._rooms.discard(room)

    async def messages(self) -> AsyncIterator[RoomMessage]:
        """What is published to the joined rooms, in publish order, until `close`."""
        queue = self._queue
        while not self._closed:
            message = await queue.get()
            if message is None or self._closed:
                return
            yield message

    async def close(self) -> None:
        """Leave every room and end `messages`; closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        self._rooms.clear()
        self._queue.put_nowait(None)
