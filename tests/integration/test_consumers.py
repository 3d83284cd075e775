"""Consumers against the Kafka-protocol broker and PostgreSQL: once each, poison parked."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy.exc import IntegrityError, OperationalError

from adapters.kafka.publisher import KafkaEventPublisher
from application.common.outbox import OutboxMessage
from application.events.event_handler import EventHandler
from application.events.received_event import ReceivedEvent
from application.users.ports import UserRepository
from entrypoints.bootstrap import with_signing_secret
from entrypoints.config import load_settings
from entrypoints.ioc import make_container
from entrypoints.worker.consumers import consume_until_stopped
from entrypoints.worker.handler_table import on_event, on_topic
from tests.support.event_handlers import TestHandlers
from tests.support.events import CounterIncremented
from tests.support.kafka_cluster import kafka_mock_cluster

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def counted(amount: int, event_id: uuid.UUID | None = None) -> OutboxMessage:
    return OutboxMessage(
        event_id=event_id or uuid.uuid4(),
        event=CounterIncremented(aggregate_id="c", occurred_at=NOW, amount=amount),
        request_id=None,
    )


async def dead_letters(bootstrap: str, topic: str) -> list[dict[str, str]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        async with asyncio.timeout(20):
            while True:
                batch = await consumer.getmany(timeout_ms=500)
                records = [r for rs in batch.values() for r in rs]
                if records:
                    return [{k: v.decode() for k, v in r.headers} for r in records]
    finally:
        await consumer.stop()


def consumer_settings(migrated_url: str, tmp_path: Any, bootstrap: str, **extra: str) -> Any:
    return with_signing_secret(
        load_settings(
            {
                "DATABASE_URL": migrated_url,
                "DATA_DIR": str(tmp_path),
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "KAFKA_TOPIC_PREFIX": f"c{uuid.uuid4().hex[:6]}.",
                "KAFKA_CONSUMER_GROUP": f"g{uuid.uuid4().hex[:6]}",
                **extra,
            },
            env_file=None,
        )
    )


async def test_each_event_is_handled_once_and_a_poison_one_is_parked(
    clean_database: Any, migrated_url: str, tmp_path: Any
) -> None:
    seen: list[int] = []
    tries: list[int] = []

    class Tally(EventHandler):
        def __init__(self, users: UserRepository) -> None:
            self._users = users

        async def __call__(self, event: ReceivedEvent) -> None:
            assert await self._users.get_by_username("nobody") is None
            tries.append(event.payload["amount"])
            if event.payload["amount"] < 0:
                raise ValueError("negative amounts are poison")
            seen.append(event.payload["amount"])

    handlers = TestHandlers(on_event("test.counter_incremented", consumer="tally", handler=Tally))

    with kafka_mock_cluster() as bootstrap:
        settings = consumer_settings(
            migrated_url,
            tmp_path,
            bootstrap,
            KAFKA_CONSUMER_MAX_ATTEMPTS="3",
            KAFKA_CONSUMER_RETRY_BASE_SECONDS="0.01",
        )
        prefix = settings.kafka.topic_prefix
        publisher = KafkaEventPublisher(bootstrap, topic_prefix=prefix, client_id="tests")
        first = uuid.uuid4()
        await publisher.publish([counted(1, first), counted(-1), counted(2), counted(1, first)])
        await publisher.close()
        container = make_container(settings, handlers)
        stop = asyncio.Event()
        try:
            running = asyncio.create_task(
                consume_until_stopped(container, settings, handlers.table, stop)
            )
            async with asyncio.timeout(30):
                while len(tries) < 5:
                    if running.done():
                        running.result()
                    await asyncio.sleep(0.05)
            parked = await dead_letters(bootstrap, f"{prefix}dead-letter")
            stop.set()
            assert await running == 4
        finally:
            await container.close()
    assert seen == [1, 2], "the redelivered first event was skipped"
    assert tries == [1, -1, -1, -1, 2]
    (poison,) = parked
    assert "ValueError: negative amounts are poison" in poison["dead_letter_reason"]
    assert poison["dead_letter_topic"] == f"{prefix}test_counter"
    assert poison["event_type"] == "test.counter_incremented"


async def test_another_services_topic_reaches_its_handler_once_by_event_id(
    clean_database: Any, migrated_url: str, tmp_path: Any
) -> None:
    seen: list[tuple[str, str, Any]] = []
    topic = f"billing{uuid.uuid4().hex[:6]}.user.created"

    class LinkBilling(EventHandler):
        async def __call__(self, event: ReceivedEvent) -> None:
            seen.append((event.event_type, event.event_id, event.payload["plan"]))

    handlers = TestHandlers(on_topic(topic, consumer="link-billing", handler=LinkBilling))

    with kafka_mock_cluster() as bootstrap:
        settings = consumer_settings(migrated_url, tmp_path, bootstrap)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        for _ in range(2):
            await producer.send_and_wait(
                topic,
                value=b'{"user": "u1", "plan": "pro"}',
                key=b"u1",
                headers=[("event_id", b"billing-42")],
            )
        await producer.send_and_wait(topic, value=b'{"user": "u2", "plan": "free"}')
        await producer.stop()
        container = make_container(settings, handlers)
        stop = asyncio.Event()
        try:
            running = asyncio.create_task(
                consume_until_stopped(container, settings, handlers.table, stop)
            )
            async with asyncio.timeout(30):
                while len(seen) < 2:
                    if running.done():
                        running.result()
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            stop.set()
            assert await running == 3
        finally:
            await container.close()
    assert len(seen) == 2, "the redelivered billing-42 was skipped"
    by_plan = {plan: (event_type, event_id) for event_type, event_id, plan in seen}
    assert by_plan["pro"] == (topic, "billing-42")
    assert by_plan["free"][0] == topic
    assert by_plan["free"][1].startswith(f"{topic}:"), "no id given: its position is its id"


async def test_an_event_that_breaks_a_constraint_is_parked_not_retried_forever(
    clean_database: Any, migrated_url: str, tmp_path: Any
) -> None:
    """A row the event names may be gone (deleted, or a restore older than the topic)."""
    tries: list[int] = []

    class Orphan(EventHandler):
        async def __call__(self, event: ReceivedEvent) -> None:
            tries.append(event.payload["amount"])
            raise IntegrityError("INSERT INTO follows ...", {}, ValueError("fk_follows_follower"))

    handlers = TestHandlers(on_event("test.counter_incremented", consumer="orphan", handler=Orphan))

    with kafka_mock_cluster() as bootstrap:
        settings = consumer_settings(
            migrated_url,
            tmp_path,
            bootstrap,
            KAFKA_CONSUMER_MAX_ATTEMPTS="2",
            KAFKA_CONSUMER_RETRY_BASE_SECONDS="0.01",
        )
        prefix = settings.kafka.topic_prefix
        publisher = KafkaEventPublisher(bootstrap, topic_prefix=prefix, client_id="tests")
        await publisher.publish([counted(7)])
        await publisher.close()
        container = make_container(settings, handlers)
        stop = asyncio.Event()
        try:
            running = asyncio.create_task(
                consume_until_stopped(container, settings, handlers.table, stop)
            )
            parked = await dead_letters(bootstrap, f"{prefix}dead-letter")
            stop.set()
            assert await running == 1
        finally:
            await container.close()
    assert tries == [7, 7]
    (poison,) = parked
    assert poison["dead_letter_reason"].startswith("IntegrityError")


async def test_stopping_in_an_outage_ends_the_wait_and_leaves_the_event_for_later(
    clean_database: Any, migrated_url: str, tmp_path: Any
) -> None:
    database_up = False
    seen: list[int] = []
    delivered = asyncio.Event()
    refused = asyncio.Event()

    class Outage(EventHandler):
        async def __call__(self, event: ReceivedEvent) -> None:
            if not database_up:
                refused.set()
                raise OperationalError("SELECT 1", {}, ConnectionRefusedError("the server is down"))
            seen.append(event.payload["amount"])
            delivered.set()

    handlers = TestHandlers(on_event("test.counter_incremented", consumer="outage", handler=Outage))

    with kafka_mock_cluster() as bootstrap:
        settings = consumer_settings(
            migrated_url, tmp_path, bootstrap, KAFKA_CONSUMER_RETRY_BASE_SECONDS="60"
        )
        publisher = KafkaEventPublisher(
            bootstrap, topic_prefix=settings.kafka.topic_prefix, client_id="tests"
        )
        await publisher.publish([counted(3)])
        await publisher.close()
        container = make_container(settings, handlers)
        try:
            stop = asyncio.Event()
            running = asyncio.create_task(
                consume_until_stopped(container, settings, handlers.table, stop)
            )
            async with asyncio.timeout(30):
                await refused.wait()
            await asyncio.sleep(0.5)
            assert not running.done(), "the consumer gave up on a transient outage"
            stop.set()
            async with asyncio.timeout(10):
                assert await running == 0, "the wait (30 s) did not end on stop"
            database_up = True
            stop = asyncio.Event()
            running = asyncio.create_task(
                consume_until_stopped(container, settings, handlers.table, stop)
            )
            async with asyncio.timeout(30):
                await delivered.wait()
            stop.set()
            assert await running == 1
        finally:
            await container.close()
    assert seen == [3], "the event interrupted by the stop was not delivered afterwards"
