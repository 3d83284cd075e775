"""The `JobQueueDepth` port: the in-process queue's own count, and the Redis jobs stream's."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping

import pytest
from redis.asyncio import Redis

from adapters.inprocess.task_queue import InProcessTaskQueue
from adapters.redis.client import create_redis_client
from adapters.redis.dashboard import RedisJobQueueDepth
from adapters.taskiq.queue import TaskiqTaskQueue, create_broker
from application.common.errors import DependencyUnavailableError
from tests.support.network import closed_port


async def test_the_in_process_queue_counts_jobs_until_they_finish() -> None:
    release = asyncio.Event()

    async def run(_task: str, _payload: Mapping[str, str]) -> None:
        await release.wait()

    queue = InProcessTaskQueue(run)
    assert await queue.depth() == 0
    for _ in range(3):
        await queue.enqueue("job", {})
    assert await queue.depth() == 3
    release.set()
    await queue.drain()
    assert await queue.depth() == 0


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = create_redis_client(redis_url, timeout_seconds=2, client_name="tests")
    yield client
    await client.aclose()


@pytest.mark.integration
async def test_redis_counts_what_the_workers_group_has_not_acknowledged(redis: Redis) -> None:
    stream = f"test:jobs:{uuid.uuid4().hex}"
    depth = RedisJobQueueDepth(redis, stream=stream, group="workers")
    try:
        assert await depth.depth() == 0  # no stream yet
        ids = [await redis.xadd(stream, {"job": str(n)}) for n in range(4)]
        assert await depth.depth() == 4  # no worker made the group yet: all of them wait
        await redis.xgroup_create(stream, "workers", id="0")
        await redis.xgroup_create(stream, "someone-else", id="$")
        assert await depth.depth() == 4
        await redis.xreadgroup("workers", "w1", {stream: ">"}, count=3)
        assert await depth.depth() == 4  # three running, one waiting
        await redis.xack(stream, "workers", ids[0], ids[1])
        assert await depth.depth() == 2
        await redis.xdel(stream, ids[3])  # Redis cannot tell the lag after a deletion
        assert await depth.depth() == 1
    finally:
        await redis.delete(stream)


@pytest.mark.integration
async def test_jobs_enqueued_through_the_broker_are_counted(redis_url: str, redis: Redis) -> None:
    stream = f"test:jobs:{uuid.uuid4().hex}"
    broker = create_broker(
        redis_url, stream=stream, group="portico-workers", redeliver_after_seconds=30
    )
    await broker.startup()
    try:
        queue = TaskiqTaskQueue(broker)
        for n in range(3):
            await queue.enqueue("send_email", {"n": str(n)})
        depth = RedisJobQueueDepth(redis, stream=stream, group="portico-workers")
        assert await depth.depth() == 3
    finally:
        await broker.shutdown()
        await redis.delete(stream)


@pytest.mark.integration
async def test_redis_out_of_reach_is_a_dependency_outage() -> None:
    client = create_redis_client(
        f"redis://127.0.0.1:{closed_port()}/0", timeout_seconds=0.5, client_name="tests"
    )
    try:
        with pytest.raises(DependencyUnavailableError):
            await RedisJobQueueDepth(client, stream="s", group="g").depth()
    finally:
        await client.aclose()
