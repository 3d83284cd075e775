"""The Kafka consumer's lag and dead letters, against the Kafka-protocol mock broker."""

import asyncio
import uuid

import pytest

from adapters.events.envelope import topic_for
from adapters.kafka.consumer import LAG_REPORT_SECONDS, KafkaEventConsumer
from adapters.kafka.publisher import KafkaEventPublisher
from adapters.memory.metrics import InMemoryMetrics
from application.events.received_event import ReceivedEvent
from tests.integration.test_consumers import counted
from tests.support.events import CounterIncremented
from tests.support.kafka_cluster import kafka_mock_cluster

pytestmark = pytest.mark.integration

RECORDS = 150
"""More than one batch (the consumer takes at most 100), so the first leaves a lag."""


class RecordingMetrics(InMemoryMetrics):
    """The memory twin, keeping every lag reported in order."""

    def __init__(self) -> None:
        super().__init__()
        self.lags: list[tuple[str, int]] = []

    def consumer_lag(self, *, topic: str, lag: int) -> None:
        self.lags.append((topic, lag))
        super().consumer_lag(topic=topic, lag=lag)


async def test_the_lag_falls_to_zero_as_the_backlog_is_handled_and_poison_is_counted() -> None:
    metrics = RecordingMetrics()
    handled: list[int] = []

    async def deliver(topic: str, event: ReceivedEvent) -> None:
        if event.payload["amount"] < 0:
            raise ValueError("poison")
        handled.append(event.payload["amount"])

    with kafka_mock_cluster() as bootstrap:
        prefix = f"m{uuid.uuid4().hex[:6]}."
        publisher = KafkaEventPublisher(bootstrap, topic_prefix=prefix, client_id="tests")
        amounts = [n if n != 7 else -1 for n in range(1, RECORDS + 1)]
        await publisher.publish([counted(amount) for amount in amounts])
        await publisher.close()
        topic = topic_for(prefix, CounterIncremented.aggregate_type)
        consumer = KafkaEventConsumer(
            bootstrap,
            topics=[topic],
            group_id=f"g{uuid.uuid4().hex[:6]}",
            dead_letter_topic=f"{prefix}dead-letter",
            client_id="tests",
            max_attempts=2,
            retry_base_seconds=0.01,
            metrics=metrics,
        )
        stop = asyncio.Event()
        running = asyncio.create_task(consumer.run(deliver, stop))
        try:
            async with asyncio.timeout(30):
                while len(handled) < RECORDS - 1 or not metrics.lags:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
                await asyncio.sleep(LAG_REPORT_SECONDS * 1.5)
        finally:
            stop.set()
            await running
    reported = [lag for name, lag in metrics.lags if name == topic]
    assert reported, metrics.lags
    assert reported[0] >= RECORDS - 100, "the first batch left records waiting"
    assert reported[-1] == 0
    assert metrics.gauge("portico_consumer_lag", topic) == 0
    assert metrics.count("portico_events_dead_lettered") == 1
