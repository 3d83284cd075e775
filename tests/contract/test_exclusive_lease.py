"""The `ExclusiveLease` contract, on the memory adapter and on PostgreSQL advisory locks."""

import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory.lease import InMemoryLease
from adapters.sqlalchemy.lease import PostgresAdvisoryLease
from application.common.ports.lease import ExclusiveLease
from tests.support.postgres import engine_for_tests, isolated_schema

NewLease = Callable[[], ExclusiveLease]


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
async def new_lease(request: pytest.FixtureRequest) -> AsyncIterator[NewLease]:
    """Leases on one name, each as if held by another process."""
    name = f"test.lease.{uuid.uuid4().hex}"
    if request.param == "memory":
        registry: set[str] = set()
        yield lambda: InMemoryLease(registry, name=name)
        return
    engine = engine_for_tests(request.getfixturevalue("postgres_url"))
    made: list[PostgresAdvisoryLease] = []

    def make() -> ExclusiveLease:
        made.append(PostgresAdvisoryLease(engine, name=name))
        return made[-1]

    yield make
    for lease in made:
        await lease.release()
    await engine.dispose()


async def test_one_holder_at_a_time(new_lease: NewLease) -> None:
    first, second = new_lease(), new_lease()
    assert await first.try_acquire()
    assert await first.try_acquire(), "taking it again keeps it"
    assert not await second.try_acquire()
    assert await first.is_held()
    assert not await second.is_held()


async def test_a_released_lease_goes_to_the_next_holder(new_lease: NewLease) -> None:
    first, second = new_lease(), new_lease()
    assert await first.try_acquire()
    await first.release()
    assert not await first.is_held()
    assert await second.try_acquire()
    await first.release()
    assert await second.is_held(), "releasing what one does not hold takes nothing"


@pytest.mark.integration
async def test_a_holder_whose_connection_dies_loses_the_lease(postgres_url: str) -> None:
    name = f"test.lease.{uuid.uuid4().hex}"
    engine: AsyncEngine = engine_for_tests(postgres_url)
    first = PostgresAdvisoryLease(engine, name=name)
    second = PostgresAdvisoryLease(engine, name=name)
    try:
        assert await first.try_acquire()
        assert first.key is not None
        key = first.key & 0xFFFFFFFFFFFFFFFF
        async with engine.connect() as admin:
            await admin.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                    " AND classid::bigint = :high AND objid::bigint = :low"
                ),
                {"high": key >> 32, "low": key & 0xFFFFFFFF},
            )
        assert not await first.is_held()
        assert await second.try_acquire()
    finally:
        await first.release()
        await second.release()
        await engine.dispose()


@pytest.mark.integration
async def test_deployments_in_schemas_of_their_own_each_have_their_lease(
    postgres_url: str,
) -> None:
    name = "test.lease.per-schema"
    with isolated_schema(postgres_url, "one") as one, isolated_schema(postgres_url, "two") as two:
        engines = [engine_for_tests(one), engine_for_tests(two)]
        leases = [PostgresAdvisoryLease(engine, name=name) for engine in [*engines, engines[0]]]
        try:
            assert await leases[0].try_acquire()
            assert await leases[1].try_acquire(), "another schema's holder blocked this one"
            assert not await leases[2].try_acquire(), "one schema, one holder"
        finally:
            for lease in leases:
                await lease.release()
            for engine in engines:
                await engine.dispose()
