"""The realtime port: fans messages out to the processes that hold live connections."""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from domain.users.values import UserId


@dataclass(frozen=True, slots=True)
class RoomMessage:
    """A message for everyone in a room, such as one user's connections."""

    room: str
    payload: bytes


def user_room(user_id: UserId) -> str:
    """The room holding every live connection of one user, on every process."""
    return f"user:{user_id}"


class RealtimeBroadcaster(Protocol):
    """Fans messages out to the processes that hold live connections.

    Contract:
    - Any process may `publish`. Delivery is at most once and only to processes that have
      joined the room at that moment; it is a live feed, not a queue.
    - A process that holds connections `join`s the room of each user connected to it, and
      `leave`s it when the last one goes. `join` returns once messages published after it
      will be received.
    - `messages` yields what arrives for the rooms this process has joined, in publish
      order per room. One reader per broadcaster; it ends when the broadcaster is closed.
    """

    async def publish(self, message: RoomMessage) -> None:
        """Send the message to every process in its room."""
        ...

    async def publish_many(self, messages: Sequence[RoomMessage]) -> None:
        """Send several messages in one round trip where the transport allows."""
        ...

    async def join(self, room: str) -> None:
        """Start receiving the room's messages in this process."""
        ...

    async def leave(self, room: str) -> None:
        """Stop receiving the room's messages in this process."""
        ...

    def messages(self) -> AsyncIterator[RoomMessage]:
        """What arrives for the joined rooms, until `close`."""
        ...

    async def close(self) -> None:
        """Stop receiving and release the connection."""
        ...
