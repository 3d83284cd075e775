"""Each real probe against its real server: up when it answers, an exception when it does not."""

import re
from collections.abc import AsyncIterator, Iterator

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink
from redis.exceptions import ConnectionError as RedisConnectionError

from adapters.kafka.health import KafkaProbe
from adapters.redis.client import create_redis_client
from adapters.redis.health import RedisProbe
from adapters.smtp.health import SmtpProbe
from adapters.sqlalchemy.health import SqlDatabaseProbe
from application.common.errors import DependencyUnavailableError
from application.health.check_readiness import CheckReadiness, CheckReadinessCommand
from tests.support.kafka_cluster import kafka_mock_cluster
from tests.support.network import closed_port, free_port
from tests.support.postgres import engine_for_tests

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def kafka_bootstrap() -> Iterator[str]:
    with kafka_mock_cluster() as address:
        yield address


@pytest.fixture
def smtp_server() -> Iterator[tuple[str, int]]:
    controller = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.hostname, controller.port
    finally:
        controller.stop()


@pytest.fixture
async def redis_probe(redis_url: str) -> AsyncIterator[RedisProbe]:
    client = create_redis_client(redis_url, timeout_seconds=2, client_name="tests")
    yield RedisProbe(client)
    await client.aclose()


async def test_database_probe_answers_on_a_live_server(postgres_url: str) -> None:
    engine = engine_for_tests(postgres_url)
    try:
        await SqlDatabaseProbe(engine).check()
    finally:
        await engine.dispose()


async def test_database_probe_raises_when_nothing_listens() -> None:
    engine = engine_for_tests(f"postgresql://nobody@127.0.0.1:{closed_port()}/none")
    try:
        with pytest.raises(DependencyUnavailableError) as raised:
            await SqlDatabaseProbe(engine).check()
        assert re.search(r"refused|failed", str(raised.value.__cause__))
    finally:
        await engine.dispose()


async def test_redis_probe_answers_on_a_live_server(redis_probe: RedisProbe) -> None:
    await redis_probe.check()


async def test_redis_probe_raises_when_nothing_listens() -> None:
    client = create_redis_client(
        f"redis://127.0.0.1:{closed_port()}/0", timeout_seconds=1, client_name="tests"
    )
    try:
        with pytest.raises(RedisConnectionError):
            await RedisProbe(client).check()
    finally:
        await client.aclose()


async def test_kafka_probe_answers_on_a_live_broker(kafka_bootstrap: str) -> None:
    await KafkaProbe(kafka_bootstrap, timeout_seconds=5).check()


async def test_kafka_probe_raises_when_no_broker_listens() -> None:
    probe = KafkaProbe(f"127.0.0.1:{closed_port()}", timeout_seconds=1)
    with pytest.raises(Exception):  # noqa: B017, PT011 - aiokafka raises its own connection errors
        await probe.check()


async def test_smtp_probe_answers_on_a_live_relay(smtp_server: tuple[str, int]) -> None:
    host, port = smtp_server
    await SmtpProbe(host, port, timeout_seconds=2).check()


async def test_smtp_probe_raises_when_nothing_listens() -> None:
    with pytest.raises(OSError):  # noqa: PT011 - aiosmtplib's connect error is an OSError
        await SmtpProbe("127.0.0.1", closed_port(), timeout_seconds=1).check()


async def test_readiness_names_the_one_dependency_that_is_down(
    postgres_url: str, redis_probe: RedisProbe
) -> None:
    engine = engine_for_tests(postgres_url)
    dead_smtp = SmtpProbe("127.0.0.1", closed_port(), timeout_seconds=1)
    try:
        report = await CheckReadiness([SqlDatabaseProbe(engine), redis_probe, dead_smtp])(
            CheckReadinessCommand(timeout_seconds=2)
        )
    finally:
        await engine.dispose()
    assert report.failing == ["smtp"]
    assert set(report.dependencies) == {"database", "redis", "smtp"}
