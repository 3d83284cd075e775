"""The event bus on Kafka, with aiokafka's idempotent producer."""

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from adapters.events.envelope import encode_envelope, headers_for, topic_for
from adapters.opentelemetry.messaging import PublishSpans
from application.common.outbox import OutboxMessage
from application.common.ports.events import EventPublisher, EventPublishError


class KafkaEventPublisher(EventPublisher):
    """The `EventPublisher` port on Kafka.

    - One topic per aggregate type (`topic_prefix` + type); the key is the aggregate id, so
      a partition holds every event of an aggregate, in order.
    - The producer is idempotent with ``acks=all``: a retry after a lost acknowledgement
      does not duplicate a record, and a record counts as sent once every in-sync replica
      has it.
    - The value is the JSON envelope; the headers carry the event id, type, schema version,
      request id and trace context: each event's PRODUCER span continues the trace its
      outbox row carries (`adapters.opentelemetry.messaging`).
    - The producer connects on first use, so the process starts while Kafka is down; a
      failed start is retried by the next `publish`.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        topic_prefix: str,
        client_id: str,
        request_timeout_seconds: float = 10.0,
    ) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._topic_prefix = topic_prefix
        self._client_id = client_id
        self._request_timeout_ms = int(request_timeout_seconds * 1000)
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Send every message and wait until Kafka acknowledged all of them."""
        if not messages:
            return
        producer = await self._started()
        with PublishSpans(system="kafka") as spans:
            try:
                deliveries = []
                for message in messages:
                    topic = topic_for(self._topic_prefix, message.event.aggregate_type)
                    traceparent = spans.traceparent(message, destination=topic)
                    deliveries.append(
                        await producer.send(
                            topic,
                            value=encode_envelope(message),
                            key=message.event.aggregate_id.encode(),
                            headers=headers_for(message, traceparent=traceparent),
                        )
                    )
                await asyncio.gather(*deliveries)
            except (TimeoutError, KafkaError, OSError) as exc:
                await self._discard(producer)
                raise EventPublishError(f"kafka: {type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        """Flush and stop the producer."""
        async with self._lock:
            if self._producer is not None:
                producer, self._producer = self._producer, None
                await producer.stop()

    async def _started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is not None:
                return self._producer
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap_servers,
                client_id=self._client_id,
                enable_idempotence=True,
                acks="all",
                request_timeout_ms=self._request_timeout_ms,
                linger_ms=5,
            )
            try:
                await producer.start()
            except (TimeoutError, KafkaError, OSError) as exc:
                await producer.stop()
                raise EventPublishError(f"kafka unreachable: {type(exc).__name__}") from exc
            self._producer = producer
            return producer

    async def _discard(self, producer: AIOKafkaProducer) -> None:
        """Drop a producer that failed, so the next publish starts afresh."""
        async with self._lock:
            if self._producer is producer:
                self._producer = None
        try:
            await producer.stop()
        except (KafkaError, OSError):
            return
