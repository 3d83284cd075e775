"""The consumer loop: events from the bus to the handlers of the table, once each."""

import asyncio

from dishka import AsyncContainer
from loguru import logger

from adapters.events.envelope import topic_for
from adapters.kafka.consumer import KafkaEventConsumer
from application.common.ports.metrics import ConsumerMetrics
from application.events.received_event import ReceivedEvent
from domain.shared.events import event_class_for
from entrypoints.config import Settings
from entrypoints.worker.dispatch import dispatch
from entrypoints.worker.handler_table import HandlerTable

DEAD_LETTER = "dead-letter"


def subscribed_topics(handlers: HandlerTable, prefix: str) -> set[str]:
    """Our topics that carry an event type of the table, and the table's external ones.

    Raises LookupError for an event type no domain event has: a typo in the handler
    table stops the worker at start instead of waiting for events that never come.
    """
    ours = set()
    for event_type in handlers.event_types:
        cls = event_class_for(event_type)
        if cls is None:
            raise LookupError(f"no domain event has the type {event_type!r}")
        ours.add(topic_for(prefix, cls.aggregate_type))
    return ours | set(handlers.external_topics)


async def consume_until_stopped(
    container: AsyncContainer, settings: Settings, handlers: HandlerTable, stop: asyncio.Event
) -> int:
    """Hand every event on the subscribed topics to its handlers until `stop` is set.

    Each handler is resolved from `container` and runs through `HandleEvent` in its own
    request scope (see `dispatch`), so it is skipped when it already handled the event,
    and its changes commit with that record.
    """
    kafka = settings.kafka
    if kafka.bootstrap_servers is None:
        logger.warning("consumers need KAFKA_BOOTSTRAP_SERVERS; not consuming")
        await stop.wait()
        return 0
    topics = subscribed_topics(handlers, kafka.topic_prefix)
    if not topics:
        logger.info("no consumers are registered; not consuming")
        await stop.wait()
        return 0

    async def deliver(topic: str, event: ReceivedEvent) -> None:
        await dispatch(container, handlers, event, topic=topic)

    consumer = KafkaEventConsumer(
        kafka.bootstrap_servers,
        topics=topics,
        group_id=kafka.consumer_group,
        dead_letter_topic=topic_for(kafka.topic_prefix, DEAD_LETTER),
        client_id=settings.app.name,
        max_attempts=kafka.consumer_max_attempts,
        retry_base_seconds=kafka.consumer_retry_base_seconds,
        metrics=await container.get(ConsumerMetrics),
    )
    logger.info("consuming {}", ", ".join(sorted(topics)))
    return await consumer.run(deliver, stop)
