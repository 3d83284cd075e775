"""The event bus on Redis Streams, for deployments that have Redis but no Kafka."""

from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.events.envelope import encode_envelope, headers_for, topic_for
from adapters.opentelemetry.messaging import PublishSpans
from application.common.outbox import OutboxMessage
from application.common.ports.events import EventPublisher, EventPublishError


class RedisStreamsEventPublisher(EventPublisher):
    """The `EventPublisher` port on Redis Streams.

    - One stream per aggregate type (`stream_prefix` + type), like Kafka's topics; a
      stream is totally ordered, so the events of an aggregate keep their order.
    - Each entry holds the envelope JSON under ``value``, the aggregate id under ``key``,
      and the Kafka headers as fields of their own.
    - A batch is sent in one pipeline (one round trip); Redis appends it in order. With
      `max_length`, streams are trimmed approximately to that many entries.
    """

    def __init__(
        self, client: "Redis", *, stream_prefix: str, max_length: int | None = None
    ) -> None:
        self._client = client
        self._stream_prefix = stream_prefix
        self._max_length = max_length

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """XADD every message, or raise `EventPublishError`."""
        if not messages:
            return
        pipeline = self._client.pipeline(transaction=False)
        with PublishSpans(system="redis") as spans:
            for message in messages:
                stream = topic_for(self._stream_prefix, message.event.aggregate_type)
                fields: dict[str | bytes, bytes] = {
                    "key": message.event.aggregate_id.encode(),
                    "value": encode_envelope(message),
                }
                traceparent = spans.traceparent(message, destination=stream)
                fields.update(dict(headers_for(message, traceparent=traceparent)))
                pipeline.xadd(
                    stream,
                    fields,  # type: ignore[arg-type]
                    maxlen=self._max_length,
                    approximate=True,
                )
            try:
                await pipeline.execute()
            except (RedisError, OSError) as exc:
                raise EventPublishError(f"redis: {type(exc).__name__}: {exc}") from exc
