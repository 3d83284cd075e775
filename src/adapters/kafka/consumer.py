"""Consuming events from Kafka: commit after success, retry, then dead-letter."""

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import KafkaError
from loguru import logger

from adapters.events.envelope import decode_envelope
from adapters.inprocess.metrics import NO_METRICS
from adapters.opentelemetry.messaging import processing
from adapters.opentelemetry.propagation import header_value
from adapters.opentelemetry.spans import note_failure
from application.common.ports.metrics import ConsumerMetrics
from application.events.ports import TransientDeliveryError
from application.events.received_event import ReceivedEvent

Deliver = Callable[[str, ReceivedEvent], Awaitable[None]]
"""Called with the topic and the event; raising means the attempt failed."""
LAG_REPORT_SECONDS = 1.0
"""How often, at most, the consumer works out and reports its lag."""
_POSITION_WAIT_SECONDS = 0.1


class UndecodableMessageError(ValueError):
    """The record is neither an event envelope nor a JSON object."""


def received_event(record: ConsumerRecord[bytes, bytes]) -> ReceivedEvent:
    """Read a record: our envelope, or another service's JSON object.

    A foreign message gets its type from the topic, and its id from an ``event_id``
    header or field, else from its position, which is stable across redeliveries.
    """
    value = record.value or b""
    with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
        envelope = decode_envelope(value)
        return ReceivedEvent(
            event_id=envelope.event_id,
            event_type=envelope.event_type,
            aggregate_type=envelope.aggregate_type,
            aggregate_id=envelope.aggregate_id,
            occurred_at=envelope.occurred_at,
            payload=envelope.payload,
            request_id=envelope.request_id,
        )
    try:
        payload = json.loads(value)
    except ValueError as exc:
        raise UndecodableMessageError("not JSON") from exc
    if not isinstance(payload, dict):
        raise UndecodableMessageError("not a JSON object")
    headers = {key: raw.decode(errors="replace") for key, raw in record.headers or ()}
    event_id = headers.get("event_id") or str(payload.get("event_id") or "")
    return ReceivedEvent(
        event_id=event_id or f"{record.topic}:{record.partition}:{record.offset}",
        event_type=record.topic,
        aggregate_type=record.topic,
        aggregate_id=(record.key or b"").decode(errors="replace"),
        occurred_at=datetime.fromtimestamp(record.timestamp / 1000, tz=UTC),
        payload=payload,
    )


class KafkaEventConsumer:
    """Reads topics in a consumer group and hands each event to `deliver`.

    - The offset of a record is committed only after `deliver` succeeded for it, so a
      worker that dies mid-record gets it again (handlers deduplicate).
    - A failing record is retried `max_attempts` times with a doubling delay, then
      copied to the dead-letter topic with the reason in its headers, and the consumer
      goes on with the next record.
    - `TransientDeliveryError` (the database down) does not count as an attempt: the
      record waits, with a capped backoff, for as long as the outage lasts.
    - Each record is handled inside a CONSUMER span that continues the trace of its
      ``traceparent`` header (`adapters.opentelemetry.messaging`).
    - `metrics` hears of every record parked, and, at most every `LAG_REPORT_SECONDS`,
      of each topic's lag: the records between what this consumer handled and the end of
      the partitions it holds (a topic it holds none of reads 0).
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        topics: Collection[str],
        group_id: str,
        dead_letter_topic: str,
        client_id: str,
        max_attempts: int,
        retry_base_seconds: float,
        metrics: ConsumerMetrics = NO_METRICS,
    ) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._topics = sorted(topics)
        self._group_id = group_id
        self._dead_letter_topic = dead_letter_topic
        self._client_id = client_id
        self._max_attempts = max_attempts
        self._retry_base_seconds = retry_base_seconds
        self._metrics = metrics
        self._lag_reported_at = 0.0
        self._stopping = asyncio.Event()

    async def run(self, deliver: Deliver, stop: asyncio.Event) -> int:
        """Consume until `stop` is set; return how many records were handled.

        A record waiting out an outage or a retry delay when `stop` is set is left
        uncommitted, for the next consumer of its partition.
        """
        self._stopping = stop
        consumer = AIOKafkaConsumer(
            *self._topics,
            bootstrap_servers=self._bootstrap_servers,
            group_id=self._group_id,
            client_id=self._client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=50,
        )
        dead_letters = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap_servers,
            client_id=self._client_id,
            enable_idempotence=True,
            acks="all",
        )
        handled = 0
        try:
            await consumer.start()
            await dead_letters.start()
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=100, max_records=100)
                for partition, records in batch.items():
                    for record in records:
                        if not await self._handle(record, deliver, dead_letters):
                            return handled
                        await consumer.commit({partition: record.offset + 1})
                        handled += 1
                await self._report_lag(consumer)
        finally:
            await dead_letters.stop()
            await consumer.stop()
        return handled

    async def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        """Each topic's lag over the partitions held: their end, less the next offset to handle.

        A partition whose end or position is not known yet (no fetch answered for it) is
        left out until it is; a topic none of whose partitions are held here reads 0.
        """
        if time.monotonic() - self._lag_reported_at < LAG_REPORT_SECONDS:
            return
        lags: dict[str, int] = {}
        held: set[str] = set()
        for partition in consumer.assignment():
            held.add(partition.topic)
            end = consumer.highwater(partition)
            if end is None:
                continue
            try:
                async with asyncio.timeout(_POSITION_WAIT_SECONDS):
                    position = await consumer.position(partition)
            except (TimeoutError, KafkaError):
                continue
            lags[partition.topic] = lags.get(partition.topic, 0) + max(0, end - position)
        if not lags:
            return
        self._lag_reported_at = time.monotonic()
        for topic in self._topics:
            if topic not in held:
                lags[topic] = 0
        for topic, lag in lags.items():
            self._metrics.consumer_lag(topic=topic, lag=lag)

    async def _handle(
        self,
        record: ConsumerRecord[bytes, bytes],
        deliver: Deliver,
        dead_letters: AIOKafkaProducer,
    ) -> bool:
        """Deliver, retry, or park the record; False when told to stop before it was done.

        Retry delays end early on stop, so a worker stops within moments even in an outage.
        """
        try:
            event = received_event(record)
        except UndecodableMessageError as exc:
            await self._dead_letter(record, dead_letters, f"undecodable: {exc}")
            return True
        with processing(
            record.topic,
            system="kafka",
            traceparent=header_value(record.headers),
            message_id=event.event_id,
            event_type=event.event_type,
            attributes={
                "messaging.consumer.group.name": self._group_id,
                "messaging.destination.partition.id": str(record.partition),
                "messaging.kafka.offset": record.offset,
            },
        ):
            return await self._deliver_with_retries(record, event, deliver, dead_letters)

    async def _deliver_with_retries(
        self,
        record: ConsumerRecord[bytes, bytes],
        event: ReceivedEvent,
        deliver: Deliver,
        dead_letters: AIOKafkaProducer,
    ) -> bool:
        error = ""
        attempt = 1
        outage = 0
        while attempt <= self._max_attempts:
            try:
                await deliver(record.topic, event)
            except TransientDeliveryError as exc:
                outage += 1
                wait = min(self._retry_base_seconds * 2**outage, 30.0)
                logger.warning("event {} waits for {} ({:.1f}s)", event.event_id, exc, wait)
                if await self._stopped_within(wait):
                    return False
                continue
            except Exception as exc:  # noqa: BLE001 - any handler failure is retried, then parked
                error = f"{type(exc).__name__}: {exc}"[:500]
                note_failure(exc, final=attempt >= self._max_attempts)
                logger.warning(
                    "event {} on {} failed (attempt {}/{}): {}",
                    event.event_id,
                    record.topic,
                    attempt,
                    self._max_attempts,
                    error,
                )
                if attempt < self._max_attempts and await self._stopped_within(
                    self._retry_base_seconds * 2 ** (attempt - 1)
                ):
                    return False
                attempt += 1
            else:
                return True
        await self._dead_letter(record, dead_letters, error)
        return True

    async def _stopped_within(self, seconds: float) -> bool:
        """Wait out a retry delay, or less if the consumer is told to stop; say which."""
        try:
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        except TimeoutError:
            return False
        return True

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], dead_letters: AIOKafkaProducer, reason: str
    ) -> None:
        headers: list[tuple[str, bytes]] = [
            *(record.headers or ()),
            ("dead_letter_reason", reason.encode()),
            ("dead_letter_topic", record.topic.encode()),
            ("dead_letter_partition", str(record.partition).encode()),
            ("dead_letter_offset", str(record.offset).encode()),
            ("dead_letter_group", self._group_id.encode()),
        ]
        try:
            await dead_letters.send_and_wait(
                self._dead_letter_topic, value=record.value, key=record.key, headers=headers
            )
        except KafkaError:
            logger.error("dead-lettering {}:{} failed", record.topic, record.offset)
            raise
        self._metrics.event_dead_lettered()
        logger.error(
            "parked {}:{}@{} in {}: {}",
            record.topic,
            record.partition,
            record.offset,
            self._dead_letter_topic,
            reason,
        )
