"""An event bus inside the process: the relay hands events straight to their handlers."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from adapters.events.envelope import event_payload
from adapters.inprocess.metrics import NO_METRICS
from adapters.opentelemetry.messaging import processing
from adapters.opentelemetry.spans import note_failure
from application.common.outbox import OutboxMessage
from application.common.ports.events import EventPublisher, EventPublishError
from application.common.ports.metrics import ConsumerMetrics
from application.events.ports import TransientDeliveryError
from application.events.received_event import ReceivedEvent

_log = logging.getLogger(__name__)

Deliver = Callable[[ReceivedEvent], Awaitable[None]]


def received(message: OutboxMessage) -> ReceivedEvent:
    """The event as a handler receives it, the same as from Kafka."""
    event = message.event
    return ReceivedEvent(
        event_id=str(message.event_id),
        event_type=event.event_type,
        aggregate_type=event.aggregate_type,
        aggregate_id=event.aggregate_id,
        occurred_at=event.occurred_at,
        payload=event_payload(event),
        request_id=message.request_id,
    )


class InProcessEventBus(EventPublisher):
    """The `EventPublisher` port for embedded mode: publishing runs the handlers.

    The relay publishes after the events' transaction committed and marks them sent only
    after this returns, so a crash before that delivers them again (handlers deduplicate).
    A message whose delivery keeps failing is retried `max_attempts` times with doubling
    waits, then logged as parked and skipped, so one bad event never blocks the outbox;
    the same rule as Kafka's dead-letter topic, without the topic. A handler whose
    dependency is down (`TransientDeliveryError`) fails the publish instead, so the relay
    keeps the rows and tries again after its backoff. Each delivery runs in a CONSUMER span
    continuing the trace the event was written in, as a Kafka consumer's does. A parked
    message counts as a dead letter (`metrics`).
    """

    def __init__(
        self,
        deliver: Deliver,
        *,
        max_attempts: int,
        retry_base_seconds: float,
        metrics: ConsumerMetrics = NO_METRICS,
    ) -> None:
        self._deliver = deliver
        self._max_attempts = max_attempts
        self._retry_base_seconds = retry_base_seconds
        self._metrics = metrics

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Deliver each message in order."""
        for message in messages:
            event = received(message)
            with processing(
                event.event_type,
                system="in-process",
                traceparent=message.traceparent,
                message_id=event.event_id,
                event_type=event.event_type,
            ):
                await self._deliver_with_retries(event)

    async def _deliver_with_retries(self, event: ReceivedEvent) -> None:
        for attempt in range(1, self._max_attempts + 1):
            try:
                await self._deliver(event)
            except TransientDeliveryError as exc:
                raise EventPublishError(f"handlers wait: {exc}") from exc
            except Exception as exc:  # noqa: BLE001 - any handler failure is retried, then parked
                note_failure(exc, final=attempt == self._max_attempts)
                if attempt == self._max_attempts:
                    _log.error(
                        "parked event %s (%s) after %d attempts: %s: %s",
                        event.event_id,
                        event.event_type,
                        attempt,
                        type(exc).__name__,
                        exc,
                    )
                    self._metrics.event_dead_lettered()
                    return
                await asyncio.sleep(self._retry_base_seconds * 2 ** (attempt - 1))
            else:
                return
