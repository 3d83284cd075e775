"""The job queue on taskiq's Redis Streams broker, which acknowledges jobs it finished."""

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any

from loguru import logger
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq import AckableMessage, AsyncBroker
from taskiq.exceptions import SendTaskError
from taskiq.kicker import AsyncKicker
from taskiq_redis import RedisStreamBroker

from adapters.opentelemetry.propagation import TRACEPARENT, current_traceparent
from adapters.system.outage_log import OutageLog
from application.common.errors import DependencyUnavailableError
from application.common.ports.task_queue import TaskQueue

RUN_JOB = "portico.run_job"
"""The one taskiq task: it carries a job's name and payload to the job dispatcher."""

_LINK_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)
"""What redis-py raises while Redis is down or restarting."""

JOB_QUEUE = "jobs: the job queue"
"""How the outage log names Redis, as the job queue."""
_WHAT_WAITS = "jobs wait until it is back"

_MAX_RECONNECT_WAIT_SECONDS = 2.0
"""The longest wait between reads while Redis is down: jobs resume within seconds."""


class ReclaimingRedisStreamBroker(RedisStreamBroker):
    """taskiq-redis's Streams broker, reclaiming abandoned jobs even when the stream is idle.

    The upstream `listen` looks for jobs left pending by dead workers only after it read a
    new message, so on a quiet queue an abandoned job waited for the next enqueue. Here
    every read, new message or timeout, is followed by an XAUTOCLAIM of jobs idle longer
    than `idle_timeout`. It also outlives a Redis restart (see `listen`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outage = OutageLog(JOB_QUEUE, what_waits=_WHAT_WAITS)
        """Logs, once each, that Redis went away and that it is back."""

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        """Yield new jobs, then jobs other consumers abandoned, until cancelled.

        taskiq stops a receiver by cancelling the read in flight. redis-py can lose that
        cancellation (seen under CPU load: the read was retried and the loop went on, so a
        stopping worker never stopped), so the loop also checks after every command
        whether its task was asked to stop.

        It outlives Redis: while Redis is down it reads again with a growing wait (up to
        `_MAX_RECONNECT_WAIT_SECONDS`), logging the outage once and the recovery once.
        A Redis that came back empty has lost the stream and its consumer group; both are
        made again, reading from the start of the new stream, so jobs enqueued since the
        return are run. Jobs the old stream held are gone; deliveries among them are found
        by the worker's sweep (`RequeueStaleDeliveries`).
        """
        wait = 0.0
        async with Redis(connection_pool=self.connection_pool) as redis:
            while True:
                try:
                    fetched, reclaimed = await self._read(redis)
                except _LINK_ERRORS as exc:
                    self.outage.down(exc)
                    wait = min(max(wait * 2, 0.1), _MAX_RECONNECT_WAIT_SECONDS)
                    await asyncio.sleep(wait)
                    continue
                except ResponseError as exc:
                    if "NOGROUP" not in str(exc):
                        raise
                    await self._make_stream_again(redis)
                    continue
                wait = 0.0
                self.outage.up()
                for stream, messages in fetched or ():
                    for message_id, fields in messages:
                        yield self._ackable(stream, message_id, fields)
                for message_id, fields in reclaimed[1]:
                    yield self._ackable(self.queue_name, message_id, fields)

    async def _read(self, redis: Redis) -> tuple[Any, Any]:
        """New jobs for this consumer, then jobs idle longer than `idle_timeout` (XAUTOCLAIM)."""
        fetched: Any = await redis.xreadgroup(
            self.consumer_group_name,
            self.consumer_name,
            {self.queue_name: ">"},
            block=self.block,
            noack=False,
            count=self.count,
        )
        _raise_if_cancel_requested()
        reclaimed: Any = await redis.xautoclaim(
            self.queue_name,
            self.consumer_group_name,
            self.consumer_name,
            min_idle_time=self.idle_timeout,
            count=self.unacknowledged_batch_size,
        )
        _raise_if_cancel_requested()
        return fetched, reclaimed

    async def _make_stream_again(self, redis: Redis) -> None:
        """Create the stream and the group, from the stream's first entry (if not there)."""
        try:
            await redis.xgroup_create(
                self.queue_name, self.consumer_group_name, id=self.consumer_id, mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):  # another worker made it first
                raise
        else:
            logger.warning(
                "jobs: Redis had lost the stream {} (restarted empty?); made it again: jobs "
                "it held are lost, and lost deliveries are enqueued again by the sweep",
                self.queue_name,
            )

    # taskiq-redis internals: tests/{unit/test_reliances_taskiq,integration/test_reliances_redis}.py
    def _ackable(self, stream: Any, message_id: Any, fields: Any) -> AckableMessage:
        return AckableMessage(
            data=fields[b"data"],
            ack=self._tolerant_ack(self._ack_generator(id=message_id, queue_name=stream)),
        )

    def _tolerant_ack(self, ack: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """`ack`, except that an ack Redis cannot take is left undone rather than raised.

        The job has run; unacknowledged, it is claimed again after `idle_timeout` and run
        once more, as after a worker's crash (jobs are at least once). Raising would only
        end the receiver's task for the job with an error nobody retrieves.
        """

        async def acknowledge() -> None:
            try:
                await ack()
            except _LINK_ERRORS as exc:
                self.outage.down(exc)

        return acknowledge


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


class TaskiqTaskQueue(TaskQueue):
    """The `TaskQueue` port on taskiq: a job survives the process that enqueued it.

    While the broker cannot take jobs (Redis down), each enqueue raises
    `DependencyUnavailableError`, and the outage is logged once, with the recovery, on
    the broker's own log when it has one (so a worker's receiver and enqueues share it).
    """

    def __init__(self, broker: AsyncBroker) -> None:
        self._broker = broker
        self._outage = (
            broker.outage
            if isinstance(broker, ReclaimingRedisStreamBroker)
            else OutageLog(JOB_QUEUE, what_waits=_WHAT_WAITS)
        )

    async def enqueue(self, task: str, payload: Mapping[str, str]) -> None:
        """Add the job to the stream; returns once Redis has it.

        Raises `DependencyUnavailableError` when the broker cannot take it (Redis down).
        """
        await self.enqueue_attempt(task, payload, attempt=1)

    async def enqueue_attempt(self, task: str, payload: Mapping[str, str], *, attempt: int) -> None:
        """`enqueue`, for the given run of the job (a failed run enqueues the next).

        The job carries the trace context it was enqueued in (a ``traceparent`` label), so
        its run continues the trace of the request or event that asked for it.
        """
        traceparent = current_traceparent()
        labels = {TRACEPARENT: traceparent} if traceparent else {}
        # AsyncKicker is not exported by taskiq: tests/unit/test_reliances_taskiq.py
        kicker: AsyncKicker[..., None] = AsyncKicker(RUN_JOB, self._broker, labels=labels)
        try:
            await kicker.kiq(task, dict(payload), attempt)
        except SendTaskError as exc:
            self._outage.down(exc)
            raise DependencyUnavailableError(
                "is unavailable; try again shortly", field="jobs"
            ) from exc
        self._outage.up()
