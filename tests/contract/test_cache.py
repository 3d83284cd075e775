"""The `Cache` contract, on the memory adapter and on real Redis."""

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.exceptions import RedisError

from adapters.inprocess.cache import InProcessCache
from adapters.redis.cache import RedisCache
from adapters.redis.client import create_redis_client
from application.common.ports.cache import Cache, CacheUnavailableError
from tests.support.network import closed_port

LetTimePass = Callable[[float], Awaitable[None]]


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def cache(
    backend: str, clock: FakeClock, request: pytest.FixtureRequest
) -> AsyncIterator[Cache]:
    if backend == "memory":
        yield InProcessCache(clock=clock)
        return
    client = create_redis_client(
        request.getfixturevalue("redis_url"), timeout_seconds=2, client_name="tests"
    )
    prefix = f"test:{uuid.uuid4().hex}:"
    try:
        yield RedisCache(client, prefix=prefix)
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def let_time_pass(backend: str, clock: FakeClock) -> LetTimePass:
    """Memory moves its fake clock; Redis keeps real time, so the test really waits."""

    async def let_pass(seconds: float) -> None:
        if backend == "memory":
            clock.now += seconds
        else:
            await asyncio.sleep(seconds)

    return let_pass


async def test_get_returns_what_set_stored(cache: Cache) -> None:
    await cache.set("k", b"\x00any bytes\xff", ttl_seconds=60)
    assert await cache.get("k") == b"\x00any bytes\xff"


async def test_a_key_never_set_reads_as_none(cache: Cache) -> None:
    assert await cache.get("never-set") is None


async def test_delete_forgets_a_key(cache: Cache) -> None:
    await cache.set("k", b"v", ttl_seconds=60)
    await cache.delete("k")
    assert await cache.get("k") is None


async def test_deleting_a_missing_key_is_harmless(cache: Cache) -> None:
    await cache.delete("never-set")
    assert await cache.get("never-set") is None


async def test_take_returns_the_value_and_forgets_it(cache: Cache) -> None:
    await cache.set("k", b"v", ttl_seconds=60)
    assert await cache.take("k") == b"v"
    assert await cache.get("k") is None
    assert await cache.take("k") is None


async def test_set_overwrites_the_previous_value(cache: Cache) -> None:
    await cache.set("k", b"first", ttl_seconds=60)
    await cache.set("k", b"second", ttl_seconds=60)
    assert await cache.get("k") == b"second"


async def test_increment_creates_a_counter_at_one_then_counts_up(cache: Cache) -> None:
    assert await cache.increment("n") == 1
    assert await cache.increment("n") == 2


async def test_get_reads_a_counter_as_ascii_digits(cache: Cache) -> None:
    await cache.increment("n")
    await cache.increment("n")
    assert await cache.get("n") == b"2"


async def test_a_deleted_counter_starts_again_at_one(cache: Cache) -> None:
    await cache.increment("n")
    await cache.increment("n")
    await cache.delete("n")
    assert await cache.get("n") is None
    assert await cache.increment("n") == 1


async def test_set_replaces_a_counter(cache: Cache) -> None:
    await cache.increment("n")
    await cache.set("n", b"value", ttl_seconds=60)
    assert await cache.get("n") == b"value"


async def test_increment_counts_up_from_stored_digits(cache: Cache) -> None:
    await cache.set("n", b"41", ttl_seconds=60)
    assert await cache.increment("n") == 42
    assert await cache.get("n") == b"42"


async def test_incrementing_a_non_integer_is_reported_as_unavailable(cache: Cache) -> None:
    await cache.set("k", b"not digits", ttl_seconds=60)
    with pytest.raises(CacheUnavailableError):
        await cache.increment("k")
    assert await cache.get("k") == b"not digits"


async def test_a_value_expires_after_its_ttl_while_counters_live_on(
    cache: Cache, let_time_pass: LetTimePass
) -> None:
    await cache.increment("n")
    await cache.set("k", b"v", ttl_seconds=1)
    assert await cache.get("k") == b"v"
    await let_time_pass(1.2)
    assert await cache.get("k") is None
    assert await cache.get("n") == b"1"
    assert await cache.increment("n") == 2


async def test_keys_are_independent(cache: Cache) -> None:
    await cache.set("a", b"1", ttl_seconds=60)
    await cache.set("b", b"2", ttl_seconds=60)
    await cache.increment("x")
    await cache.delete("a")
    await cache.increment("x")
    assert await cache.get("a") is None
    assert await cache.get("b") == b"2"
    assert await cache.get("x") == b"2"
    assert await cache.get("y") is None
    assert await cache.increment("y") == 1


@pytest.mark.parametrize("ttl_seconds", [0, -1])
async def test_a_ttl_under_one_second_is_a_programming_error(
    cache: Cache, ttl_seconds: int
) -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        await cache.set("k", b"v", ttl_seconds=ttl_seconds)
    assert await cache.get("k") is None


async def test_memory_a_value_lives_exactly_its_ttl(clock: FakeClock) -> None:
    cache = InProcessCache(clock=clock)
    await cache.set("k", b"v", ttl_seconds=5)
    clock.now += 4.999
    assert await cache.get("k") == b"v"
    clock.now += 0.001
    assert await cache.get("k") is None


async def test_memory_an_expired_value_is_missing_to_increment(clock: FakeClock) -> None:
    cache = InProcessCache(clock=clock)
    await cache.set("n", b"41", ttl_seconds=1)
    clock.now += 1
    assert await cache.increment("n") == 1


async def test_memory_increment_keeps_the_expiry_of_a_stored_value(clock: FakeClock) -> None:
    cache = InProcessCache(clock=clock)
    await cache.set("n", b"41", ttl_seconds=5)
    clock.now += 4
    assert await cache.increment("n") == 42
    clock.now += 1
    assert await cache.get("n") is None


async def test_memory_evicts_the_least_recently_used_key_when_full() -> None:
    cache = InProcessCache(max_entries=2)
    await cache.set("a", b"1", ttl_seconds=60)
    await cache.set("b", b"2", ttl_seconds=60)
    assert await cache.get("a") == b"1"
    await cache.set("c", b"3", ttl_seconds=60)
    assert await cache.get("b") is None
    assert await cache.get("a") == b"1"
    assert await cache.get("c") == b"3"


async def test_memory_overwriting_a_key_when_full_evicts_nothing() -> None:
    cache = InProcessCache(max_entries=2)
    await cache.set("a", b"1", ttl_seconds=60)
    await cache.set("b", b"2", ttl_seconds=60)
    await cache.set("a", b"3", ttl_seconds=60)
    assert await cache.get("a") == b"3"
    assert await cache.get("b") == b"2"


async def test_memory_evicts_values_before_counters() -> None:
    cache = InProcessCache(max_entries=2)
    await cache.increment("generation")
    await cache.set("a", b"1", ttl_seconds=60)
    await cache.set("b", b"2", ttl_seconds=60)
    assert await cache.get("a") is None
    assert await cache.get("generation") == b"1"
    assert await cache.get("b") == b"2"


async def test_memory_evicts_the_least_recently_used_counter_when_only_counters_are_left() -> None:
    cache = InProcessCache(max_entries=2)
    await cache.increment("x")
    await cache.increment("y")
    await cache.get("x")
    await cache.increment("z")
    assert await cache.get("y") is None
    await cache.increment("x")
    await cache.increment("w")
    assert await cache.get("z") is None
    assert await cache.get("x") == b"2"
    assert await cache.get("w") == b"1"


async def test_memory_an_expired_value_read_as_missing_frees_its_room(clock: FakeClock) -> None:
    cache = InProcessCache(clock=clock, max_entries=2)
    await cache.set("short", b"1", ttl_seconds=1)
    await cache.set("long", b"2", ttl_seconds=60)
    assert await cache.get("short") == b"1"
    clock.now += 1
    assert await cache.get("short") is None
    await cache.set("new", b"3", ttl_seconds=60)
    assert await cache.get("long") == b"2"
    assert await cache.get("new") == b"3"


@pytest.mark.parametrize("value", [b"", b"+1", b"01", b" 1", b"1.5", b"9223372036854775808"])
async def test_memory_increments_only_what_redis_reads_as_an_integer(value: bytes) -> None:
    cache = InProcessCache()
    await cache.set("k", value, ttl_seconds=60)
    with pytest.raises(CacheUnavailableError):
        await cache.increment("k")


async def test_memory_a_counter_at_the_64_bit_limit_does_not_overflow() -> None:
    cache = InProcessCache()
    await cache.set("k", b"9223372036854775806", ttl_seconds=60)
    assert await cache.increment("k") == 9223372036854775807
    with pytest.raises(CacheUnavailableError):
        await cache.increment("k")
    assert await cache.increment("negative") == 1


def test_memory_max_entries_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        InProcessCache(max_entries=0)


@pytest.mark.integration
async def test_redis_keys_live_under_the_prefix_with_their_ttl(redis_url: str) -> None:
    client = create_redis_client(redis_url, timeout_seconds=2, client_name="tests")
    prefix = f"test:{uuid.uuid4().hex}:"
    key = f"unprefixed-{uuid.uuid4().hex}"
    cache = RedisCache(client, prefix=prefix)
    try:
        await cache.set(key, b"41", ttl_seconds=60)
        await cache.increment("counter")
        assert await client.get(prefix + key) == b"41"
        assert 0 < await client.ttl(prefix + key) <= 60
        assert await client.ttl(f"{prefix}counter") == -1
        assert await client.exists(key) == 0
        assert await cache.increment(key) == 42
        assert 0 < await client.ttl(prefix + key) <= 60
    finally:
        await client.delete(prefix + key, f"{prefix}counter", key)
        await client.aclose()


async def _assert_every_method_is_unavailable(cache: Cache) -> None:
    operations: list[Callable[[], Awaitable[object]]] = [
        lambda: cache.get("k"),
        lambda: cache.set("k", b"v", ttl_seconds=60),
        lambda: cache.delete("k"),
        lambda: cache.increment("k"),
    ]
    for operation in operations:
        with pytest.raises(CacheUnavailableError) as raised:
            await operation()
        assert isinstance(raised.value.__cause__, RedisError | OSError)


@pytest.mark.integration
async def test_redis_down_is_reported_as_unavailable_quickly() -> None:
    client = create_redis_client(
        f"redis://127.0.0.1:{closed_port()}/0", timeout_seconds=0.5, client_name="tests"
    )
    started = time.monotonic()
    try:
        await _assert_every_method_is_unavailable(RedisCache(client))
        with pytest.raises(ValueError, match="ttl_seconds"):
            await RedisCache(client).set("k", b"v", ttl_seconds=0)
    finally:
        await client.aclose()
    assert time.monotonic() - started < 5


@pytest.mark.integration
async def test_redis_that_never_answers_is_reported_as_unavailable_quickly() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        client = create_redis_client(
            f"redis://127.0.0.1:{silent.getsockname()[1]}/0",
            timeout_seconds=0.2,
            client_name="tests",
        )
        started = time.monotonic()
        try:
            await _assert_every_method_is_unavailable(RedisCache(client))
        finally:
            await client.aclose()
    assert time.monotonic() - started < 10
