"""Outbox relay throughput: events per second from PostgreSQL to a Kafka-protocol broker.

Writes N events to the outbox (in one transaction, as many requests would over time),
starts librdkafka's mock cluster, and runs the relay (`RelayOutbox`, the worker's code
path) in batches until the outbox is empty. Target: at least 5,000 events/s.

    .venv/bin/python bench/relay.py [--events 20000] [--batch 500]

DATABASE_URL picks the PostgreSQL server (a schema of its own is created and dropped);
unset, the embedded one is used.
"""

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
from tests.support.kafka_cluster import kafka_mock_cluster
from tests.support.postgres import isolated_schema, run_alembic

from adapters.kafka.publisher import KafkaEventPublisher
from adapters.sqlalchemy.engine import create_engine
from adapters.sqlalchemy.outbox import SqlOutboxStore, write_messages
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from adapters.system.clock import SystemClock
from adapters.system.uuid7 import Uuid7Generator
from application.common.outbox import OutboxMessage
from application.events.relay_outbox import RelayOutbox, RelayPolicy
from domain.articles.events import ArticleFavorited
from entrypoints.bootstrap import resolved_database
from entrypoints.config import load_settings

TARGET = 5000.0


async def measure(url: str, bootstrap: str, events: int, batch: int) -> float:
    engine = create_engine(
        url,
        pool_size=2,
        max_overflow=0,
        pool_timeout_seconds=10,
        connect_timeout_seconds=5,
        application_name="bench-relay",
        autocommit=True,
    )
    ids = Uuid7Generator()
    now = datetime.now(UTC)
    messages = [
        OutboxMessage(
            event_id=ids.new_id(),
            event=ArticleFavorited(
                aggregate_id=str(uuid.UUID(int=number % 500)),
                occurred_at=now,
                author_id=str(uuid.UUID(int=1)),
                user_id=str(uuid.UUID(int=number)),
            ),
            request_id=None,
        )
        for number in range(events)
    ]
    async with engine.begin() as connection:
        for start in range(0, events, 5000):
            await write_messages(connection, messages[start : start + 5000])
    publisher = KafkaEventPublisher(bootstrap, topic_prefix="bench.", client_id="bench")
    policy = RelayPolicy(
        batch_size=batch, retry_base=timedelta(seconds=1), retry_max=timedelta(seconds=5)
    )
    await publisher.publish(messages[:1])
    published = 0
    started = time.perf_counter()
    try:
        async with engine.connect() as connection:
            relay = RelayOutbox(
                uow=SqlAlchemyUnitOfWork(connection, ids),
                outbox=SqlOutboxStore(connection),
                publisher=publisher,
                clock=SystemClock(),
                policy=policy,
            )
            while published < events:
                report = await relay()
                if report.error:
                    raise RuntimeError(report.error)
                published += report.published
        elapsed = time.perf_counter() - started
        async with engine.connect() as connection:
            unsent = await connection.scalar(
                sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
            )
        assert unsent == 0, unsent
    finally:
        await publisher.close()
        await engine.dispose()
    return published / elapsed


def main() -> None:
    """Measure and print events per second against the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        environment = {"DATA_DIR": data_dir}
        if os.environ.get("DATABASE_URL"):
            environment["DATABASE_URL"] = os.environ["DATABASE_URL"]
        settings = load_settings(environment, env_file=None)
        with resolved_database(settings) as resolved, kafka_mock_cluster() as bootstrap:
            assert resolved.database.url is not None
            with isolated_schema(resolved.database.url, prefix="bench_relay") as url:
                run_alembic(url, "upgrade", "head")
                rate = asyncio.run(measure(url, bootstrap, args.events, args.batch))
    verdict = "PASS" if rate >= TARGET else "MISS"
    print(f"relay: {args.events} events in batches of {args.batch}: {rate:,.0f} events/s")
    print(f"{verdict}  relay throughput {rate:,.0f} >= {TARGET:,.0f} events/s")
    if rate < TARGET:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
