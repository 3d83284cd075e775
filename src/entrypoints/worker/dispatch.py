"""Handing one event to the handlers the registry names, each in its own request scope."""

from dishka import AsyncContainer

from application.events.consumers import ConsumerRegistry, ReceivedEvent
from application.events.handle_event import HandleEvent, HandleEventCommand


async def dispatch(
    container: AsyncContainer,
    registry: ConsumerRegistry,
    event: ReceivedEvent,
    *,
    topic: str | None = None,
) -> None:
    """Run every handler of the event (or of the external `topic`) once in effect.

    Raises what a handler raised; handlers that already ran are skipped on the retry,
    because each run is recorded with its changes.
    """
    subscriptions = (
        registry.for_topic(topic)
        if topic is not None and topic in registry.external_topics
        else registry.for_event(event.event_type)
    )
    for subscription in subscriptions:
        async with container() as request:
            handle = await request.get(HandleEvent)
            await handle(HandleEventCommand(event=event, subscription=subscription))
