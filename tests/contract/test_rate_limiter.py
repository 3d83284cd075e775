"""The `RateLimiter` contract, on the memory adapter and on real Redis."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from adapters.inprocess.rate_limiter import InProcessRateLimiter
from adapters.memory.system import ManualClock
from adapters.redis.client import create_redis_client
from adapters.redis.rate_limiter import RedisRateLimiter
from application.common.ports.rate_limits import RateLimit, RateLimiter, RateLimiterUnavailableError
from tests.support.network import closed_port

FIVE_PER_MINUTE = RateLimit(limit=5, window_seconds=60)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        yield InProcessRateLimiter(ManualClock(datetime.now(UTC)))
        return
    client = create_redis_client(
        request.getfixturevalue("redis_url"), timeout_seconds=2, client_name="tests"
    )
    yield RedisRateLimiter(client, prefix=f"test:{uuid.uuid4().hex}:")
    await client.aclose()


async def test_a_burst_up_to_the_limit_passes_and_the_next_is_refused(limiter: RateLimiter) -> None:
    decisions = [await limiter.acquire("k", FIVE_PER_MINUTE) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    assert 1 <= decisions[-1].retry_after_seconds <= 12


async def test_refund_gives_back_one_counted_event(limiter: RateLimiter) -> None:
    for _ in range(5):
        assert (await limiter.acquire("k", FIVE_PER_MINUTE)).allowed
    assert not (await limiter.acquire("k", FIVE_PER_MINUTE)).allowed
    await limiter.refund("k", FIVE_PER_MINUTE)
    assert (await limiter.acquire("k", FIVE_PER_MINUTE)).allowed
    assert not (await limiter.acquire("k", FIVE_PER_MINUTE)).allowed


async def test_refunding_an_unknown_key_is_harmless(limiter: RateLimiter) -> None:
    await limiter.refund("never-counted", FIVE_PER_MINUTE)
    assert (await limiter.acquire("never-counted", FIVE_PER_MINUTE)).remaining == 4


async def test_a_refused_event_is_not_counted(limiter: RateLimiter) -> None:
    rate = RateLimit(limit=1, window_seconds=60)
    assert (await limiter.acquire("k", rate)).allowed
    for _ in range(5):
        refused = await limiter.acquire("k", rate)
        assert not refused.allowed
    assert refused.retry_after_seconds <= 60


async def test_keys_are_independent(limiter: RateLimiter) -> None:
    rate = RateLimit(limit=1, window_seconds=60)
    assert (await limiter.acquire("a", rate)).allowed
    assert (await limiter.acquire("b", rate)).allowed
    assert not (await limiter.acquire("a", rate)).allowed


@pytest.mark.integration
async def test_redis_counts_are_shared_and_atomic_across_clients(redis_url: str) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    clients = [
        create_redis_client(redis_url, timeout_seconds=2, client_name=f"p{i}") for i in range(4)
    ]
    try:
        limiters = [RedisRateLimiter(c, prefix=prefix) for c in clients]
        rate = RateLimit(limit=20, window_seconds=60)
        decisions = await asyncio.gather(
            *(limiters[i % 4].acquire("shared", rate) for i in range(60))
        )
        assert sum(d.allowed for d in decisions) == 20
    finally:
        for client in clients:
            await client.aclose()


@pytest.mark.integration
async def test_redis_down_is_reported_as_unavailable() -> None:
    client = create_redis_client(
        f"redis://127.0.0.1:{closed_port()}/0", timeout_seconds=1, client_name="tests"
    )
    try:
        with pytest.raises(RateLimiterUnavailableError):
            await RedisRateLimiter(client).acquire("k", FIVE_PER_MINUTE)
    finally:
        await client.aclose()
