"""What an event handler is: a class that reacts to one event at a time."""

from typing import Protocol

from application.events.received_event import ReceivedEvent


class EventHandler(Protocol):
    """Reacts to one event, inside the transaction that records it was handled.

    A handler takes what it needs (use cases, ports) in its constructor, like a use case,
    and is built for each event in that event's own scope, so the unit of work it uses is
    the one `HandleEvent` opened. It may raise: the event is then retried, or parked.
    """

    async def __call__(self, event: ReceivedEvent) -> None:
        """React to `event`; its effects commit together with the record that it ran."""
        ...
