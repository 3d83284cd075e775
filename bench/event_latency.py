"""Time from commit to consumer: 100 writes/s through the outbox, the relay and Kafka.

After a warm-up of 50 events (the consumer joins its group and gets its partitions), a
writer commits one event every 10 ms (each in its own unit of work, with its outbox
row); the worker's own loops run beside it: the relay (`relay_until_stopped`) publishing
to librdkafka's mock cluster, and the consumers (`consume_until_stopped`) handing each
event to the bench's own handler through `HandleEvent`. The handler records how long
after the event occurred it ran. Target: p99 under 500 ms.

    .venv/bin/python bench/event_latency.py [--seconds 10] [--rate 100]
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.event_handlers import TestHandlers
from tests.support.events import Counter
from tests.support.kafka_cluster import kafka_mock_cluster
from tests.support.postgres import isolated_schema, run_alembic

from adapters.sqlalchemy.engine import create_engine
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from adapters.system.uuid7 import Uuid7Generator
from application.events.event_handler import EventHandler
from application.events.received_event import ReceivedEvent
from entrypoints.bootstrap import resolved_database, with_signing_secret
from entrypoints.config import Settings, load_settings
from entrypoints.ioc import make_container
from entrypoints.worker.consumers import consume_until_stopped
from entrypoints.worker.handler_table import on_event
from entrypoints.worker.relay import relay_until_stopped

TARGET_P99_MS = 500.0


async def measure(settings: Settings, url: str, seconds: float, rate: float) -> list[float]:
    latencies: list[float] = []

    class RecordLatency(EventHandler):
        async def __call__(self, event: ReceivedEvent) -> None:
            latencies.append((datetime.now(UTC) - event.occurred_at).total_seconds() * 1000)
            if os.environ.get("BENCH_TRACE"):
                print(f"{time.perf_counter():.3f} {latencies[-1]:.0f}", flush=True)

    handlers = TestHandlers(
        on_event("test.counter_incremented", consumer="bench-latency", handler=RecordLatency)
    )
    container = make_container(settings, handlers)
    engine = create_engine(
        url,
        pool_size=2,
        max_overflow=0,
        pool_timeout_seconds=10,
        connect_timeout_seconds=5,
        application_name="bench-writer",
        autocommit=True,
    )
    stop = asyncio.Event()
    worker = [
        asyncio.create_task(consume_until_stopped(container, settings, handlers.table, stop)),
        asyncio.create_task(
            relay_until_stopped(
                container, poll_interval_seconds=settings.outbox.poll_interval_seconds, stop=stop
            )
        ),
    ]
    ids = Uuid7Generator()
    writes = int(seconds * rate)

    async def write(count: int) -> None:
        started = time.perf_counter()
        async with engine.connect() as connection:
            uow = SqlAlchemyUnitOfWork(connection, ids)
            for number in range(count):
                counter = Counter(str(uuid.uuid4()))
                async with uow:
                    counter.increment(number, now=datetime.now(UTC))
                    uow.track(counter)
                    await uow.commit()
                delay = started + (number + 1) / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)

    async def handled(count: int) -> None:
        async with asyncio.timeout(30):
            while len(latencies) < count:  # noqa: ASYNC110 - the handler fills the list
                await asyncio.sleep(0.05)

    try:
        await write(50)
        await handled(50)
        latencies.clear()
        await write(writes)
        await handled(writes)
    finally:
        stop.set()
        await asyncio.gather(*worker, return_exceptions=True)
        await container.close()
        await engine.dispose()
    return latencies


def main() -> None:
    """Run the writer and the worker loops, print p50 and p99 against the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=100.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir, kafka_mock_cluster() as bootstrap:
        environment = {"DATA_DIR": data_dir}
        if os.environ.get("DATABASE_URL"):
            environment["DATABASE_URL"] = os.environ["DATABASE_URL"]
        with resolved_database(load_settings(environment, env_file=None)) as resolved:
            assert resolved.database.url is not None
            with isolated_schema(resolved.database.url, prefix="bench_latency") as url:
                run_alembic(url, "upgrade", "head")
                settings = with_signing_secret(
                    load_settings(
                        {
                            **environment,
                            "DATABASE_URL": url,
                            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                            "KAFKA_TOPIC_PREFIX": f"lat{uuid.uuid4().hex[:6]}.",
                            "LOG_LEVEL": "WARNING",
                        },
                        env_file=None,
                    )
                )
                latencies = asyncio.run(measure(settings, url, args.seconds, args.rate))
    ordered = sorted(latencies)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"{len(ordered)} events at {args.rate:.0f} writes/s: commit to consumer")
    print(f"  p50 {p50:.0f} ms   p99 {p99:.0f} ms   max {ordered[-1]:.0f} ms")
    verdict = "PASS" if p99 < TARGET_P99_MS else "MISS"
    print(f"{verdict}  p99 {p99:.0f} ms < {TARGET_P99_MS:.0f} ms")
    if p99 >= TARGET_P99_MS:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
