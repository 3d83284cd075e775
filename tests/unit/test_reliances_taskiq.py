"""taskiq and taskiq-redis: the stream broker, the kicker and the receiver.

What each failure says, and what to do then: tests/support/reliance.py.
"""

import asyncio
import inspect
from collections.abc import AsyncGenerator
from typing import Any

from taskiq import AckableMessage, AsyncBroker, BrokerMessage

from adapters.taskiq.queue import (
    RUN_JOB,
    ReclaimingRedisStreamBroker,
    TaskiqTaskQueue,
    create_broker,
)
from tests.support.reliance import Reliance

# --- taskiq-redis --------------------------------------------------------------------------


def test_taskiq_redis_stream_broker_keeps_the_attributes_and_private_ack_the_queue_uses() -> None:
    """`ReclaimingRedisStreamBroker.listen` reads the parent's attributes and `_ack_generator`."""
    with Reliance(
        "taskiq-redis", where="adapters/taskiq/queue.py (ReclaimingRedisStreamBroker.listen)"
    ) as taskiq_redis:
        broker = create_broker(
            "redis://127.0.0.1:1/0",
            stream="reliance-stream",
            group="reliance-group",
            redeliver_after_seconds=2.5,
            prefetch=7,
        )
        expected = {
            "queue_name": "reliance-stream",
            "consumer_group_name": "reliance-group",
            "block": 1000,
            "count": 7,
            "idle_timeout": 2500,
            "unacknowledged_batch_size": 7,
            "consumer_id": "0",  # where a group made again after a Redis restart starts
        }
        for attribute, value in expected.items():
            found = getattr(broker, attribute, "<missing>")
            taskiq_redis.check(
                found == value,
                f"RedisStreamBroker.{attribute} is {found!r} after the constructor, not {value!r}",
            )
        consumer_name = getattr(broker, "consumer_name", None)
        taskiq_redis.check(
            isinstance(consumer_name, str) and consumer_name,
            f"RedisStreamBroker.consumer_name is {consumer_name!r}, not a generated name",
        )
        from redis.asyncio import ConnectionPool  # noqa: PLC0415 - under the reliance

        taskiq_redis.check(
            isinstance(broker.connection_pool, ConnectionPool),
            "RedisStreamBroker.connection_pool is no longer a redis-py ConnectionPool",
        )
        ack_generator = getattr(ReclaimingRedisStreamBroker, "_ack_generator", None)
        taskiq_redis.check(
            callable(ack_generator)
            and {"id", "queue_name"} <= set(inspect.signature(ack_generator).parameters),
            "RedisStreamBroker._ack_generator(id=..., queue_name=...) is gone or renamed",
        )
        ack = broker._ack_generator(id="1-0", queue_name="reliance-stream")
        taskiq_redis.check(
            inspect.iscoroutinefunction(ack),
            "RedisStreamBroker._ack_generator no longer returns a coroutine function",
        )


# --- taskiq --------------------------------------------------------------------------------


def _taskiq_queue_broker(finished: list[str] | None = None) -> Any:
    """An in-memory taskiq broker that delivers what is kicked as ackable messages.

    Each acknowledgement is logged with the jobs that had finished by then (`finished`).
    """
    done = finished if finished is not None else []

    class QueueBroker(AsyncBroker):
        def __init__(self) -> None:
            super().__init__()
            self.sent: asyncio.Queue[BrokerMessage] = asyncio.Queue()
            self.kicked: list[BrokerMessage] = []
            self.acked: dict[str, list[str]] = {}
            self.ack_arrived = asyncio.Event()

        async def kick(self, message: BrokerMessage) -> None:
            self.kicked.append(message)
            await self.sent.put(message)

        async def listen(self) -> AsyncGenerator[AckableMessage, None]:
            while True:
                message = await self.sent.get()

                async def ack(task_id: str = message.task_id) -> None:
                    self.acked[task_id] = list(done)
                    self.ack_arrived.set()

                yield AckableMessage(data=message.message, ack=ack)

    return QueueBroker()


async def test_taskiq_async_kicker_sends_a_task_by_name() -> None:
    """The job queue enqueues the one job task by name, with taskiq's `AsyncKicker`."""
    broker = _taskiq_queue_broker()
    with Reliance(
        "taskiq",
        where="adapters/taskiq/queue.py (TaskiqTaskQueue.enqueue) and entrypoints/worker/jobs.py",
    ) as taskiq:
        from taskiq.kicker import AsyncKicker  # noqa: PLC0415 - under the reliance

        parameters = list(inspect.signature(AsyncKicker).parameters)
        taskiq.check(
            parameters[:3] == ["task_name", "broker", "labels"],
            f"taskiq.kicker.AsyncKicker now takes {parameters}",
        )
        await TaskiqTaskQueue(broker).enqueue("send-mail", {"to": "ada@example.com"})
        taskiq.check(len(broker.kicked) == 1, "AsyncKicker.kiq did not call the broker's kick")
        sent = broker.kicked[0]
        decoded = broker.formatter.loads(sent.message)
        taskiq.check(
            (sent.task_name, decoded.task_name, decoded.args)
            == (RUN_JOB, RUN_JOB, ["send-mail", {"to": "ada@example.com"}, 1]),
            f"AsyncKicker.kiq sent task {sent.task_name!r} with args {decoded.args!r}",
        )


async def test_taskiq_receiver_acks_after_execution_and_abandons_jobs_past_the_grace() -> None:
    """The worker runs taskiq's (unexported) `Receiver` and stops it with an event."""
    finished: list[str] = []
    broker = _taskiq_queue_broker(finished)
    started, release = asyncio.Event(), asyncio.Event()

    async def quick(name: str) -> None:
        finished.append(name)

    async def stuck(name: str) -> None:
        started.set()
        await release.wait()
        finished.append(name)

    broker.register_task(quick, task_name="reliance.quick")
    broker.register_task(stuck, task_name="reliance.stuck")
    with Reliance(
        "taskiq", where="entrypoints/worker/receiver.py (run_jobs_until_stopped)"
    ) as taskiq:
        from taskiq.acks import AcknowledgeType  # noqa: PLC0415 - under the reliance
        from taskiq.kicker import AsyncKicker  # noqa: PLC0415 - under the reliance
        from taskiq.receiver import Receiver  # noqa: PLC0415 - under the reliance

        receiver = Receiver(
            broker,
            max_async_tasks=4,
            run_startup=False,
            ack_type=AcknowledgeType.WHEN_EXECUTED,
            wait_tasks_timeout=0.3,
            propagate_exceptions=False,
        )
        stop = asyncio.Event()
        listening = asyncio.create_task(receiver.listen(stop))
        try:
            kick = AsyncKicker[[str], None]
            quick_task = await kick("reliance.quick", broker, labels={}).kiq("a")
            stuck_task = await kick("reliance.stuck", broker, labels={}).kiq("b")
            async with asyncio.timeout(5):
                await broker.ack_arrived.wait()
            taskiq.check(
                broker.acked.get(quick_task.task_id) == ["a"],
                "with AcknowledgeType.WHEN_EXECUTED a job was acknowledged before it had run",
            )
            async with asyncio.timeout(5):
                await started.wait()
            stop.set()
            try:
                async with asyncio.timeout(5):
                    await listening
            except TimeoutError:
                taskiq.fail("Receiver.listen(finish_event) did not return after wait_tasks_timeout")
            taskiq.check(
                stuck_task.task_id not in broker.acked,
                "a job still running when wait_tasks_timeout ended was acknowledged anyway",
            )
        finally:
            stop.set()
            release.set()
            listening.cancel()
            await asyncio.gather(listening, return_exceptions=True)
            await asyncio.sleep(0.05)
