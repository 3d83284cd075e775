"""Handing one event to the handlers the registry names, each in its own request scope."""

from dishka import AsyncContainer

from application.common.errors import DependencyUnavailableError
from application.events.consumers import ConsumerRegistry, ReceivedEvent
from application.events.handle_event import HandleEvent, HandleEventCommand
from application.events.ports import TransientDeliveryError


def is_outage(exc: Exception) -> bool:
    """Whether `exc` says a dependency is down, so the event must wait rather than fail.

    Adapters raise `DependencyUnavailableError` for a server that cannot be reached or a
    connection that died (`adapters.sqlalchemy.connection_loss`, the job queue, the realtime
    broadcaster); a socket error from a client library that does not translate its own is
    one too. A constraint the event breaks (a row it names that is gone), bad data, SQL
    the schema lacks, or a statement cancelled for running too long is the event's own
    failure: it counts against its attempts and is then dead-lettered, rather than holding
    its partition forever.
    """
    return isinstance(exc, DependencyUnavailableError | OSError)


async def dispatch(
    container: AsyncContainer,
    registry: ConsumerRegistry,
    event: ReceivedEvent,
    *,
    topic: str | None = None,
) -> None:
    """Run every handler of the event (or of the external `topic`) once in effect.

    Raises what a handler raised, except that an unreachable dependency (the database,
    a server a use case needs) becomes `TransientDeliveryError`, so the bus waits instead of
    dead-lettering. Handlers that already ran are skipped on the retry, because each run is
    recorded with its changes.
    """
    subscriptions = (
        registry.for_topic(topic)
        if topic is not None and topic in registry.external_topics
        else registry.for_event(event.event_type)
    )
    for subscription in subscriptions:
        try:
            async with container() as request:
                handle = await request.get(HandleEvent)
                await handle(HandleEventCommand(event=event, subscription=subscription))
        except Exception as exc:
            if is_outage(exc):
                raise TransientDeliveryError(f"{type(exc).__name__}: {exc}") from exc
            raise
