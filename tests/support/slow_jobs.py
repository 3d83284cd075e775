"""A worker process that takes a job and never finishes it: killed by the test, mid-job.

python -m tests.support.slow_jobs REDIS_URL STREAM
"""

import asyncio
import sys

from taskiq.acks import AcknowledgeType
from taskiq.receiver import Receiver

from adapters.taskiq.queue import create_broker

SLOW_JOB = "test.slow_job"


async def hang_in_a_job(redis_url: str, stream: str) -> None:
    broker = create_broker(redis_url, stream=stream, group="g", redeliver_after_seconds=1)

    async def slow_job(name: str) -> None:
        print(f"started {name}", flush=True)  # noqa: T201 - the test reads this line
        await asyncio.Event().wait()

    broker.register_task(slow_job, task_name=SLOW_JOB)
    receiver = Receiver(broker, ack_type=AcknowledgeType.WHEN_EXECUTED, max_async_tasks=5)
    await receiver.listen(asyncio.Event())


if __name__ == "__main__":
    asyncio.run(hang_in_a_job(sys.argv[1], sys.argv[2]))
