"""The composition root: the same `make_container` wires production and server-less runs."""

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dishka import Provider, Scope, provide
from dishka.exceptions import InvalidGraphError
from litestar.testing import AsyncTestClient

from adapters.inprocess.event_bus import InProcessEventBus
from adapters.kafka.publisher import KafkaEventPublisher
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from adapters.redis.event_publisher import RedisStreamsEventPublisher
from adapters.system.uuid7 import Uuid7Generator
from application.common.ports.events import EventPublisher
from application.common.ports.ids import IdGenerator
from application.common.ports.unit_of_work import UnitOfWork
from application.dashboard.count_published_events import CountPublishedEvents
from application.events.ports import OutboxReader
from application.health.check_readiness import CheckReadiness, CheckReadinessCommand
from application.health.ports import HealthProbe
from entrypoints.config import load_settings
from entrypoints.http.app import create_app
from entrypoints.ioc import make_container
from entrypoints.ioc.memory import InMemoryPersistenceProvider
from entrypoints.worker.handler_table import HandlerTable
from entrypoints.worker.handlers import EVENT_HANDLERS
from tests.support.events import Counter

UNREACHABLE = "postgresql://nobody@127.0.0.1:1/none"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def test_the_memory_override_runs_the_core_with_no_server() -> None:
    settings = load_settings({"DATABASE_URL": UNREACHABLE}, env_file=None)
    container = make_container(settings, InMemoryPersistenceProvider())
    try:
        async with container() as request:
            uow = await request.get(UnitOfWork)
            assert isinstance(uow, InMemoryUnitOfWork)
            counter = Counter("c")
            async with uow:
                counter.increment(1, now=NOW)
                uow.track(counter)
                await uow.commit()
        async with container() as request:
            reader = await request.get(OutboxReader)
            assert len(await reader.pending(limit=10)) == 1
            report = await (await request.get(CheckReadiness))(CheckReadinessCommand())
            assert report.ready
    finally:
        await container.close()


async def test_app_scope_objects_are_shared_and_request_scope_ones_are_not() -> None:
    settings = load_settings({"DATABASE_URL": UNREACHABLE}, env_file=None)
    container = make_container(settings, InMemoryPersistenceProvider())
    try:
        async with container() as first, container() as second:
            assert await first.get(IdGenerator) is await second.get(IdGenerator)
            assert isinstance(await first.get(IdGenerator), Uuid7Generator)
            assert await first.get(UnitOfWork) is not await second.get(UnitOfWork)
    finally:
        await container.close()


async def test_every_handler_of_the_table_is_built_for_each_event() -> None:
    settings = load_settings({"DATABASE_URL": UNREACHABLE}, env_file=None)
    container = make_container(settings, InMemoryPersistenceProvider())
    try:
        assert await container.get(HandlerTable) is EVENT_HANDLERS
        assert EVENT_HANDLERS.handler_types
        for handler_type in EVENT_HANDLERS.handler_types:
            async with container() as first, container() as second:
                handler = await first.get(handler_type)
                assert isinstance(handler, handler_type)
                assert handler is not await second.get(handler_type)
    finally:
        await container.close()


async def test_the_http_app_serves_with_no_database_at_all() -> None:
    settings = load_settings({"DATABASE_URL": UNREACHABLE}, env_file=None)
    app = create_app(make_container(settings, InMemoryPersistenceProvider()), settings)
    async with AsyncTestClient(app) as client:
        assert (await client.get("/health/live")).status_code == 200
        ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "dependencies": {}, "failing": []}


async def test_the_event_bus_follows_the_settings(tmp_path: Path) -> None:
    base = {"DATABASE_URL": "postgresql://u@127.0.0.1:1/x", "DATA_DIR": str(tmp_path)}
    cases = [
        ({}, InProcessEventBus),
        ({"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092"}, KafkaEventPublisher),
        (
            {
                "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
                "REDIS_URL": "redis://127.0.0.1:6379/0",
                "EVENT_BUS": "redis-streams",
            },
            RedisStreamsEventPublisher,
        ),
    ]
    for extra, expected in cases:
        container = make_container(load_settings({**base, **extra}, env_file=None))
        try:
            publisher = await container.get(EventPublisher)
            assert isinstance(publisher, CountPublishedEvents)  # the dashboard counts for it
            assert isinstance(publisher.bus, expected)
        finally:
            await container.close()


@pytest.mark.parametrize(
    ("topology", "probed"),
    [
        pytest.param(
            {"JOBS_QUEUE": "redis", "OUTBOX_RELAY_IN_API": "false"},
            {"SqlDatabaseProbe", "RedisProbe", "LocalStorageProbe"},
            id="the-worker-relays-and-sends-mail",
        ),
        pytest.param(
            {"JOBS_QUEUE": "in-process", "OUTBOX_RELAY_IN_API": "true"},
            {"SqlDatabaseProbe", "RedisProbe", "KafkaProbe", "SmtpProbe", "LocalStorageProbe"},
            id="the-api-relays-and-sends-mail",
        ),
    ],
)
async def test_readiness_probes_only_what_an_api_process_uses(
    topology: dict[str, str], probed: set[str]
) -> None:
    """A worker-only dependency's outage must not take every API process out at once."""
    settings = load_settings(
        {
            "DATABASE_URL": UNREACHABLE,
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
            "SMTP_HOST": "127.0.0.1",
            **topology,
        },
        env_file=None,
    )
    container = make_container(settings)
    try:
        probes = await container.get(Sequence[HealthProbe])
        assert {type(probe).__name__ for probe in probes} == probed
    finally:
        await container.close()


class _SilentOverride(Provider):
    """Replaces a default without saying so."""

    ids = provide(Uuid7Generator, provides=IdGenerator, scope=Scope.APP)


class _OverridesNothing(Provider):
    """Says it overrides a type nothing else provides."""

    @provide(scope=Scope.APP, override=True)
    def number(self) -> int:
        return 1


@pytest.mark.parametrize("provider", [_SilentOverride(), _OverridesNothing()])
def test_an_override_must_say_so_and_must_replace_something(provider: Provider) -> None:
    """dishka's strict validation: a default replaced by accident, or an override that
    overrides nothing (a typo in its type), fails when the container is built."""
    settings = load_settings({"DATABASE_URL": UNREACHABLE}, env_file=None)
    with pytest.raises(InvalidGraphError, match="verrid"):
        make_container(settings, provider)
