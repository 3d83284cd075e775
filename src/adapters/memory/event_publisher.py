"""An event bus in process memory."""

from collections import deque
from collections.abc import Sequence

from application.common.outbox import OutboxMessage
from application.common.ports.events import EventPublisher, EventPublishError


class InMemoryEventPublisher(EventPublisher):
    """The `EventPublisher` port as a list: what was published, in order.

    `fail_next(n)` makes the next `n` calls raise, as a broker outage would; it is how the
    relay's retry path is tested without a broker. Only the last `history` messages are
    kept, so a long-running process does not grow without bound.
    """

    def __init__(self, *, history: int = 10_000) -> None:
        self.published: deque[OutboxMessage] = deque(maxlen=history)
        self._failures_left = 0

    def fail_next(self, calls: int) -> None:
        """Make the next `calls` publishes fail."""
        self._failures_left = calls

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Append the messages, unless a failure was asked for."""
        if self._failures_left > 0:
            self._failures_left -= 1
            raise EventPublishError("the in-memory bus was told to fail")
        self.published.extend(messages)
