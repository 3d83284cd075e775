"""The job queue on taskiq's Redis Streams broker, which acknowledges jobs it finished."""

import asyncio
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from redis.asyncio import Redis
from taskiq import AckableMessage, AsyncBroker
from taskiq.kicker import AsyncKicker
from taskiq_redis import RedisStreamBroker

RUN_JOB = "portico.run_job"
"""The one taskiq task: it carries a job's name and payload to the job dispatcher."""


class ReclaimingRedisStreamBroker(RedisStreamBroker):
    """taskiq-redis's Streams broker, reclaiming abandoned jobs even when the stream is idle.

    The upstream `listen` looks for jobs left pending by dead workers only after it read a
    new message, so on a quiet queue an abandoned job waited for the next enqueue. Here
    every read, new message or timeout, is followed by an XAUTOCLAIM of jobs idle longer
    than `idle_timeout`.
    """

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        """Yield new jobs, then jobs other consumers abandoned, until cancelled.

        taskiq stops a receiver by cancelling the read in flight. redis-py can lose that
        cancellation (seen under CPU load: the read was retried and the loop went on, so a
        stopping worker never stopped), so the loop also checks after every command
        whether its task was asked to stop.
        """
        async with Redis(connection_pool=self.connection_pool) as redis:
            while True:
                fetched: Any = await redis.xreadgroup(
                    self.consumer_group_name,
                    self.consumer_name,
                    {self.queue_name: ">"},
                    block=self.block,
                    noack=False,
                    count=self.count,
                )
                _raise_if_cancel_requested()
                for stream, messages in fetched or ():
                    for message_id, fields in messages:
                        yield self._ackable(stream, message_id, fields)
                reclaimed: Any = await redis.xautoclaim(
                    self.queue_name,
                    self.consumer_group_name,
                    self.consumer_name,
                    min_idle_time=self.idle_timeout,
                    count=self.unacknowledged_batch_size,
                )
                _raise_if_cancel_requested()
                for message_id, fields in reclaimed[1]:
                    yield self._ackable(self.queue_name, message_id, fields)

    # taskiq-redis internals: tests/{unit/test_reliances_taskiq,integration/test_reliances_redis}.py
    def _ackable(self, stream: Any, message_id: Any, fields: Any) -> AckableMessage:
        return AckableMessage(
            data=fields[b"data"], ack=self._ack_generator(id=message_id, queue_name=stream)
        )


def _raise_if_cancel_requested() -> None:
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def create_broker(
    redis_url: str,
    *,
    stream: str,
    group: str,
    redeliver_after_seconds: float,
    prefetch: int = 20,
) -> ReclaimingRedisStreamBroker:
    """A Redis Streams broker whose unacknowledged jobs go to another worker in time.

    A job is acknowledged only once it finished. A worker that dies mid-job leaves it
    pending in the consumer group; after `redeliver_after_seconds` of idleness another
    worker claims it (XAUTOCLAIM) and runs it again. A worker reads at most `prefetch`
    jobs at a time (set it to the jobs it runs at once), so jobs do not sit unread in one
    worker long enough to look abandoned.
    """
    return ReclaimingRedisStreamBroker(
        redis_url,
        queue_name=stream,
        consumer_group_name=group,
        consumer_id="0",
        idle_timeout=int(redeliver_after_seconds * 1000),
        unacknowledged_lock_timeout=redeliver_after_seconds,
        xread_block=1000,
        xread_count=prefetch,
        unacknowledged_batch_size=prefetch,
    )


class TaskiqTaskQueue:
    """The `TaskQueue` port on taskiq: a job survives the process that enqueued it."""

    def __init__(self, broker: AsyncBroker) -> None:
        self._broker = broker

    async def enqueue(self, task: str, payload: Mapping[str, str]) -> None:
        """Add the job to the stream; returns once Redis has it."""
        # AsyncKicker is not exported by taskiq: tests/unit/test_reliances_taskiq.py
        kicker: AsyncKicker[..., None] = AsyncKicker(RUN_JOB, self._broker, labels={})
        await kicker.kiq(task, dict(payload), 1)
