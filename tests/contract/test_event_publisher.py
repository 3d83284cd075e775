"""The `EventPublisher` contract on the memory bus and on a real Kafka-protocol broker."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from adapters.events.envelope import SCHEMA_VERSION, decode_envelope, encode_envelope
from adapters.kafka.publisher import KafkaEventPublisher
from adapters.memory.event_publisher import InMemoryEventPublisher
from adapters.redis.client import create_redis_client
from adapters.redis.event_publisher import RedisStreamsEventPublisher
from application.common.outbox import OutboxMessage
from application.common.ports.events import EventPublisher, EventPublishError
from tests.support.events import CounterIncremented
from tests.support.kafka_cluster import kafka_mock_cluster
from tests.support.network import closed_port

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def message(aggregate: str, amount: int, request_id: str | None = "req-1") -> OutboxMessage:
    return OutboxMessage(
        event_id=uuid.uuid4(),
        event=CounterIncremented(aggregate_id=aggregate, occurred_at=NOW, amount=amount),
        request_id=request_id,
    )


@dataclass
class Received:
    """One delivered event as a consumer sees it: key, headers and the envelope bytes."""

    key: str
    headers: dict[str, str]
    value: bytes


@dataclass
class Bus:
    publisher: EventPublisher
    kind: str
    bootstrap: str | None = None
    prefix: str = ""
    redis: Any = None

    async def received(self, count: int) -> list[Received]:
        if self.kind == "redis":
            assert self.redis is not None
            entries = await self.redis.xrange(f"{self.prefix}test_counter")
            return [
                Received(
                    key=fields[b"key"].decode(),
                    headers={
                        k.decode(): v.decode()
                        for k, v in fields.items()
                        if k not in {b"key", b"value"}
                    },
                    value=fields[b"value"],
                )
                for _, fields in entries
            ]
        if isinstance(self.publisher, InMemoryEventPublisher):
            return [
                Received(
                    key=m.event.aggregate_id,
                    headers={"event_id": str(m.event_id), "event_type": m.event_type},
                    value=encode_envelope(m),
                )
                for m in self.publisher.published
            ]
        consumer = AIOKafkaConsumer(
            f"{self.prefix}test_counter",
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            records: list[Received] = []
            async with asyncio.timeout(20):
                while len(records) < count:
                    batch = await consumer.getmany(timeout_ms=500)
                    for partition_records in batch.values():
                        records.extend(
                            Received(
                                key=(r.key or b"").decode(),
                                headers={k: v.decode() for k, v in r.headers},
                                value=r.value or b"",
                            )
                            for r in partition_records
                        )
            return records
        finally:
            await consumer.stop()


@pytest.fixture(scope="module")
def kafka_bootstrap() -> Iterator[str]:
    with kafka_mock_cluster() as address:
        yield address


@pytest.fixture(
    params=[
        "memory",
        pytest.param("kafka", marks=pytest.mark.integration),
        pytest.param("redis", marks=pytest.mark.integration),
    ]
)
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    if request.param == "memory":
        yield Bus(InMemoryEventPublisher(), "memory")
        return
    if request.param == "redis":
        client = create_redis_client(
            request.getfixturevalue("redis_url"), timeout_seconds=2, client_name="tests"
        )
        prefix = f"test:{uuid.uuid4().hex[:8]}:"
        yield Bus(
            RedisStreamsEventPublisher(client, stream_prefix=prefix), "redis", None, prefix, client
        )
        for key in await client.keys(f"{prefix}*"):
            await client.delete(key)
        await client.aclose()
        return
    bootstrap = request.getfixturevalue("kafka_bootstrap")
    prefix = f"t{uuid.uuid4().hex[:8]}."
    publisher = KafkaEventPublisher(bootstrap, topic_prefix=prefix, client_id="tests")
    yield Bus(publisher, "kafka", bootstrap, prefix)
    await publisher.close()


async def test_every_message_arrives_in_its_envelope(bus: Bus) -> None:
    sent = [message("a", 1), message("b", 2, request_id=None)]
    await bus.publisher.publish(sent)
    received = await bus.received(2)
    by_id = {r.headers["event_id"]: r for r in received}
    assert set(by_id) == {str(m.event_id) for m in sent}
    first = by_id[str(sent[0].event_id)]
    assert first.key == "a"
    assert first.headers["event_type"] == "test.counter_incremented"
    envelope = decode_envelope(first.value)
    assert (envelope.event_type, envelope.aggregate_type, envelope.aggregate_id) == (
        "test.counter_incremented",
        "test_counter",
        "a",
    )
    assert envelope.schema_version == SCHEMA_VERSION
    assert envelope.occurred_at == NOW
    assert envelope.request_id == "req-1"
    assert envelope.payload == {"amount": 1, "note": ""}


async def test_events_of_one_aggregate_keep_their_order(bus: Bus) -> None:
    sent = [message("same", amount) for amount in range(20)]
    await bus.publisher.publish(sent[:10])
    await bus.publisher.publish(sent[10:])
    received = await bus.received(20)
    amounts = [decode_envelope(r.value).payload["amount"] for r in received if r.key == "same"]
    assert amounts == list(range(20))


async def test_publishing_nothing_is_harmless(bus: Bus) -> None:
    await bus.publisher.publish([])


@pytest.mark.integration
async def test_an_unreachable_broker_is_a_publish_error_every_time(
    kafka_bootstrap: str,
) -> None:
    down = KafkaEventPublisher(
        f"127.0.0.1:{closed_port()}",
        topic_prefix="down.",
        client_id="tests",
        request_timeout_seconds=2,
    )
    with pytest.raises(EventPublishError):
        await down.publish([message("a", 1)])
    with pytest.raises(EventPublishError):
        await down.publish([message("a", 2)])
    await down.close()


@pytest.mark.integration
async def test_redis_down_is_a_publish_error() -> None:
    client = create_redis_client(
        f"redis://127.0.0.1:{closed_port()}/0", timeout_seconds=1, client_name="tests"
    )
    try:
        with pytest.raises(EventPublishError):
            await RedisStreamsEventPublisher(client, stream_prefix="x:").publish([message("a", 1)])
    finally:
        await client.aclose()
