import asyncio

from adapters.memory.health import InMemoryHealthProbe
from application.health.check_readiness import (
    CheckReadiness,
    CheckReadinessCommand,
    DependencyState,
)


class SlowProbe:
    dependency = "slow"

    async def check(self) -> None:
        await asyncio.sleep(10)


async def test_ready_when_every_probe_answers() -> None:
    probes = [InMemoryHealthProbe("database"), InMemoryHealthProbe("redis")]
    report = await CheckReadiness(probes)(CheckReadinessCommand())
    assert report.ready
    assert list(report.dependencies) == ["database", "redis"]
    assert all(p.checks == 1 for p in probes)


async def test_a_failing_probe_is_named_and_the_others_still_run() -> None:
    database, redis = InMemoryHealthProbe("database"), InMemoryHealthProbe("redis")
    database.fail_with(ConnectionRefusedError("connection refused to 10.0.0.1 password=x"))
    report = await CheckReadiness([database, redis])(CheckReadinessCommand())
    assert not report.ready
    assert report.failing == ["database"]
    assert report.dependencies["database"].state is DependencyState.DOWN
    assert report.dependencies["database"].error == "ConnectionRefusedError"
    assert report.dependencies["redis"].state is DependencyState.UP
    assert redis.checks == 1


async def test_a_probe_that_hangs_is_down_after_the_timeout() -> None:
    report = await CheckReadiness([SlowProbe()])(CheckReadinessCommand(timeout_seconds=0.05))
    assert report.failing == ["slow"]
    assert report.dependencies["slow"].error == "timeout"


async def test_no_probes_means_ready() -> None:
    report = await CheckReadiness([])(CheckReadinessCommand())
    assert report.ready
    assert report.dependencies == {}
