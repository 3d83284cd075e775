"""Sign-ups, new articles and new comments, counted as the relay publishes their events."""

from collections.abc import Mapping, Sequence

from application.common.outbox import OutboxMessage
from application.common.ports.events import EventPublisher
from application.dashboard.ports import Activity
from application.dashboard.recorder import FigureRecorder

ACTIVITY_OF: Mapping[str, Activity] = {
    "user.registered": Activity.SIGNUPS,
    "article.published": Activity.ARTICLES,
    "comment.added": Activity.COMMENTS,
}
"""Which domain event counts as which activity."""


class CountPublishedEvents(EventPublisher):
    """The `EventPublisher` port around another, counting the activity it publishes.

    Rules:
    - Each `user.registered`, `article.published` and `comment.added` the bus accepted is
      counted, dated when it occurred, whichever process, command or seeder raised it.
    - Only a publish that succeeded counts: the relay publishes each event once it is
      committed, and again only after a failure, or a crash between publishing and marking
      it sent (at-least-once), so a count is exact but for such a crash.
    - Counting takes no transaction, no table and no handler: it adds to this process's
      counters (`FigureRecorder`), which report in the background.
    """

    def __init__(self, publisher: EventPublisher, recorder: FigureRecorder) -> None:
        self._publisher = publisher
        self._recorder = recorder

    @property
    def bus(self) -> EventPublisher:
        """The publisher it counts for."""
        return self._publisher

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Publish, then count what was published."""
        await self._publisher.publish(messages)
        for message in messages:
            kind = ACTIVITY_OF.get(message.event.event_type)
            if kind is not None:
                self._recorder.activity(kind, at=message.event.occurred_at)
