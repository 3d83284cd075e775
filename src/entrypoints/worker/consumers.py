"""The consumer loop: events from the bus to the handlers of the registry, once each."""

import asyncio

from dishka import AsyncContainer
from loguru import logger

from adapters.events.envelope import topic_for
from adapters.kafka.consumer import KafkaEventConsumer
from application.events.consumers import ConsumerRegistry, ReceivedEvent
from domain.shared.events import event_class_for
from entrypoints.config import Settings
from entrypoints.worker.dispatch import dispatch

DEAD_LETTER = "dead-letter"


def subscribed_topics(registry: ConsumerRegistry, prefix: str) -> set[str]:
    """Our topics that carry a registered event type, and the registered external ones.

    Raises LookupError for an event type no domain event has: a typo in a handler's
    declaration stops the worker at start instead of waiting for events that never come.
    """
    ours = set()
    for event_type in registry.event_types:
        cls = event_class_for(event_type)
        if cls is None:
            raise LookupError(f"no domain event has the type {event_type!r}")
        ours.add(topic_for(prefix, cls.aggregate_type))
    return ours | set(registry.external_topics)


async def consume_until_stopped(
    container: AsyncContainer, settings: Settings, registry: ConsumerRegistry, stop: asyncio.Event
) -> int:
    """Hand every event on the subscribed topics to its handlers until `stop` is set.

    Each handler runs through `HandleEvent` in its own request scope (see `dispatch`), so
    it is skipped when it already handled the event, and its changes commit with that record.
    """
    kafka = settings.kafka
    if kafka.bootstrap_servers is None:
        logger.warning("consumers need KAFKA_BOOTSTRAP_SERVERS; not consuming")
        await stop.wait()
        return 0
    topics = subscribed_topics(registry, kafka.topic_prefix)
    if not topics:
        logger.info("no consumers are registered; not consuming")
        await stop.wait()
        return 0

    async def deliver(topic: str, event: ReceivedEvent) -> None:
        await dispatch(container, registry, event, topic=topic)

    consumer = KafkaEventConsumer(
        kafka.bootstrap_servers,
        topics=topics,
        group_id=kafka.consumer_group,
        dead_letter_topic=topic_for(kafka.topic_prefix, DEAD_LETTER),
        client_id=settings.app.name,
        max_attempts=kafka.consumer_max_attempts,
        retry_base_seconds=kafka.consumer_retry_base_seconds,
    )
    logger.info("consuming {}", ", ".join(sorted(topics)))
    return await consumer.run(deliver, stop)
