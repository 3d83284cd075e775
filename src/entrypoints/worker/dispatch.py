"""Handing one event to the handlers the table names, each in its own request scope."""

from dishka import AsyncContainer

from adapters.opentelemetry.spans import operation
from application.audit.capture import acting_on_its_own
from application.audit.context import this_process
from application.common.errors import DependencyUnavailableError
from application.events.event_handler import EventHandler
from application.events.handle_event import HandleEvent, HandleEventCommand
from application.events.ports import TransientDeliveryError
from application.events.received_event import ReceivedEvent
from domain.audit.entry import ActorKind, AuditActor
from entrypoints.worker.handler_table import HandlerTable


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
    handlers: HandlerTable,
    event: ReceivedEvent,
    *,
    topic: str | None = None,
) -> None:
    """Run every handler of the event (or of the external `topic`) once in effect.

    Each handler is resolved from the container (`await request.get(HandlerClass)`) in a
    request scope of its own, beside the `HandleEvent` that records its run, so the two
    share one unit of work: the handler's changes commit with that record, or neither does.

    Raises what a handler raised, except that an unreachable dependency (the database,
    a server a use case needs) becomes `TransientDeliveryError`, so the bus waits instead of
    dead-lettering. Handlers that already ran are skipped on the retry, because each run is
    recorded with its changes. Each handler runs in a span of its own (``handle <consumer>``).
    """
    subscriptions = (
        handlers.for_topic(topic)
        if topic is not None and topic in handlers.external_topics
        else handlers.for_event(event.event_type)
    )
    worker = AuditActor.process_of(ActorKind.WORKER, this_process())
    for subscription in subscriptions:
        try:
            with (
                operation(
                    f"handle {subscription.consumer}",
                    attributes={
                        "portico.consumer": subscription.consumer,
                        "portico.event.type": event.event_type,
                    },
                ),
                acting_on_its_own(worker),
            ):
                await _handle_once(container, subscription.consumer, subscription.handler, event)
        except Exception as exc:
            if is_outage(exc):
                raise TransientDeliveryError(f"{type(exc).__name__}: {exc}") from exc
            raise


async def _handle_once(
    container: AsyncContainer,
    consumer: str,
    handler_type: type[EventHandler],
    event: ReceivedEvent,
) -> None:
    async with container() as request:
        handle = await request.get(HandleEvent)
        handler = await request.get(handler_type)
        await handle(HandleEventCommand(event=event, consumer=consumer, handler=handler))
