"""Fault tests of the outbox: the broker down during writes, and a relay dying mid-batch."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer
from dishka import AsyncContainer
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.events.envelope import decode_envelope
from adapters.kafka.publisher import KafkaEventPublisher
from adapters.memory.system import SequentialIdGenerator
from adapters.sqlalchemy.outbox import SqlOutboxStore
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from adapters.system.clock import SystemClock
from application.common.outbox import OutboxMessage
from application.events.relay_outbox import RelayOutbox, RelayPolicy
from entrypoints.bootstrap import with_signing_secret
from entrypoints.config import load_settings
from entrypoints.http.app import create_app
from entrypoints.ioc import make_container
from entrypoints.worker.relay import relay_until_stopped
from tests.support.events import Counter
from tests.support.kafka_cluster import kafka_mock_cluster
from tests.support.network import closed_port
from tests.support.postgres import engine_for_tests

pytestmark = pytest.mark.integration

WRITES = 200


def settings_for(migrated_url: str, tmp_path: Any, bootstrap: str, prefix: str) -> Any:
    return with_signing_secret(
        load_settings(
            {
                "DATABASE_URL": migrated_url,
                "DATA_DIR": str(tmp_path),
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "KAFKA_TOPIC_PREFIX": prefix,
                "OUTBOX_RETRY_BASE_SECONDS": "0.05",
                "OUTBOX_RETRY_MAX_SECONDS": "0.2",
                "OUTBOX_POLL_INTERVAL_SECONDS": "0.05",
                "OUTBOX_BATCH_SIZE": "64",
                "RATE_LIMIT_AUTH_PER_IP": "100000",
                "RATE_LIMIT_REGISTRATIONS_PER_IP": "100000",
                "RATE_LIMIT_ARTICLES_PER_USER": "100000",  # one author writes the backlog
            },
            env_file=None,
        )
    )


async def event_ids_on(bootstrap: str, topic: str, expected: int) -> list[str]:
    """Every event id on the topic, duplicates included, once `expected` distinct arrived."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    ids: list[str] = []
    try:
        async with asyncio.timeout(30):
            while len(set(ids)) < expected:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    ids.extend(decode_envelope(r.value or b"").event_id for r in records)
            extra = await consumer.getmany(timeout_ms=500)
            for records in extra.values():
                ids.extend(decode_envelope(r.value or b"").event_id for r in records)
    finally:
        await consumer.stop()
    return ids


async def unsent(container: AsyncContainer) -> int:
    async with container() as request:
        connection = await request.get(AsyncConnection)
        return int(
            await connection.scalar(sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
            or 0
        )


@pytest.fixture
async def down_container(
    clean_database: Any, migrated_url: str, tmp_path: Any
) -> AsyncIterator[AsyncContainer]:
    settings = settings_for(migrated_url, tmp_path, f"127.0.0.1:{closed_port()}", "down.")
    container = make_container(settings)
    yield container
    await container.close()


async def test_writes_succeed_while_the_broker_is_down_and_the_backlog_drains_once_up(
    down_container: AsyncContainer, migrated_url: str, tmp_path: Any
) -> None:
    settings = settings_for(migrated_url, tmp_path, f"127.0.0.1:{closed_port()}", "down.")
    async with AsyncTestClient(create_app(down_container, settings)) as client:
        name = f"w{uuid.uuid4().hex[:8]}"
        registered = await client.post(
            "/api/users",
            json={"user": {"username": name, "email": f"{name}@t.io", "password": "password123"}},
        )
        headers = {"Authorization": f"Token {registered.json()['user']['token']}"}
        for number in range(WRITES):
            created = await client.post(
                "/api/articles",
                json={"article": {"title": f"T{number}", "description": "d", "body": "b"}},
                headers=headers,
            )
            assert created.status_code == 201, created.text
        async with down_container() as request:
            relay = await request.get(RelayOutbox)
            report = await relay()
        assert report.error is not None
        assert report.published == 0
    assert await unsent(down_container) == WRITES + 1

    with kafka_mock_cluster() as bootstrap:
        prefix = f"up{uuid.uuid4().hex[:6]}."
        up = make_container(settings_for(migrated_url, tmp_path, bootstrap, prefix))
        try:
            stop = asyncio.Event()
            draining = asyncio.create_task(
                relay_until_stopped(up, poll_interval_seconds=0.05, stop=stop)
            )
            async with asyncio.timeout(60):
                while await unsent(up) > 0:  # noqa: ASYNC110 - the state is in PostgreSQL
                    await asyncio.sleep(0.1)
            stop.set()
            assert await draining == WRITES + 1
            ids = await event_ids_on(bootstrap, f"{prefix}article", WRITES)
        finally:
            await up.close()
    assert len(set(ids)) == WRITES
    assert len(ids) == WRITES, "each event was published once"


class DiesAfterPublishing:
    """Publishes for real, then the process 'dies' before the relay can mark the rows."""

    def __init__(self, inner: KafkaEventPublisher) -> None:
        self.inner = inner

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        await self.inner.publish(messages)
        raise asyncio.CancelledError


async def test_a_relay_killed_between_publishing_and_marking_publishes_again(
    clean_database: Any, migrated_url: str
) -> None:
    policy = RelayPolicy(
        batch_size=10, retry_base=timedelta(seconds=1), retry_max=timedelta(seconds=1)
    )
    ids = SequentialIdGenerator()
    engine = engine_for_tests(migrated_url, autocommit=True)
    with kafka_mock_cluster() as bootstrap:
        prefix = f"crash{uuid.uuid4().hex[:6]}."
        kafka = KafkaEventPublisher(bootstrap, topic_prefix=prefix, client_id="tests")
        try:
            async with engine.connect() as connection:
                uow = SqlAlchemyUnitOfWork(connection, ids)
                async with uow:
                    counter = Counter("c1")
                    counter.increment(1, now=SystemClock().now())
                    uow.track(counter)
                    await uow.commit()
            for publisher in (DiesAfterPublishing(kafka), kafka):
                async with engine.connect() as connection:
                    relay = RelayOutbox(
                        uow=SqlAlchemyUnitOfWork(connection, ids),
                        outbox=SqlOutboxStore(connection),
                        publisher=publisher,
                        clock=SystemClock(),
                        policy=policy,
                    )
                    if isinstance(publisher, DiesAfterPublishing):
                        with pytest.raises(asyncio.CancelledError):
                            await relay()
                    else:
                        assert (await relay()).published == 1
            seen = await event_ids_on(bootstrap, f"{prefix}test_counter", 1)
        finally:
            await kafka.close()
            await engine.dispose()
    assert len(seen) == 2, "published twice: once before the crash, once after"
    assert len(set(seen)) == 1, "a consumer deduplicating on event_id handles it once"


async def test_a_batch_of_only_unreadable_rows_is_parked_for_good(
    clean_database: Any, migrated_url: str
) -> None:
    engine = engine_for_tests(migrated_url, autocommit=True)
    try:
        async with engine.connect() as connection:
            await connection.execute(
                sa.text(
                    "INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id,"
                    " occurred_at, payload) VALUES (:id, 'billing.paid', 'invoice', 'i1', now(),"
                    " '{}')"
                ),
                {"id": uuid.uuid4()},
            )
            relay = RelayOutbox(
                uow=SqlAlchemyUnitOfWork(connection, SequentialIdGenerator()),
                outbox=SqlOutboxStore(connection),
                publisher=DiesAfterPublishing(None),  # type: ignore[arg-type]
                clock=SystemClock(),
                policy=RelayPolicy(
                    batch_size=10, retry_base=timedelta(seconds=1), retry_max=timedelta(seconds=1)
                ),
            )
            report = await relay()
            attempts = await connection.scalar(sa.text("SELECT attempts FROM outbox"))
    finally:
        await engine.dispose()
    assert (report.published, report.failed) == (0, 0)
    assert attempts == 1, "the parking survived the relay's transaction"
