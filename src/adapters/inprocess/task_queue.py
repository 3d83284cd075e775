"""Runs jobs as background tasks of the current process, with retries."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from adapters.inprocess.metrics import NO_METRICS
from application.common.ports.metrics import JobMetrics, JobOutcome
from application.common.ports.task_queue import TaskQueue
from application.dashboard.ports import JobQueueDepth

_log = logging.getLogger(__name__)

Runner = Callable[[str, Mapping[str, str]], Awaitable[None]]


class InProcessTaskQueue(TaskQueue, JobQueueDepth):
    """The `TaskQueue` port without a broker: each job runs as an asyncio task.

    A failing job is retried with exponential backoff, up to `attempts` times, then logged
    and dropped. Jobs do not survive a restart; the Redis-backed queue does. Each run is
    counted while it runs, then by how it ended (`metrics`).
    """

    def __init__(
        self,
        run: Runner,
        *,
        attempts: int = 3,
        first_delay_seconds: float = 1.0,
        metrics: JobMetrics = NO_METRICS,
    ) -> None:
        self._run = run
        self._attempts = attempts
        self._first_delay = first_delay_seconds
        self._metrics = metrics
        self._pending: set[asyncio.Task[None]] = set()

    async def enqueue(self, task: str, payload: Mapping[str, str]) -> None:
        """Start the job in the background and return at once."""
        job = asyncio.create_task(self._attempt(task, dict(payload)), name=f"job:{task}")
        self._pending.add(job)
        job.add_done_callback(self._pending.discard)

    async def depth(self) -> int:
        """The `JobQueueDepth` port: the jobs started here and not finished (or retrying)."""
        return len(self._pending)

    async def drain(self) -> None:
        """Wait for every job started so far (shutdown, tests).

        A job counts as pending until it is done, whether or not its done callback has run
        yet: waiting on the set alone could spin on finished jobs.
        """
        while running := [job for job in self._pending if not job.done()]:
            await asyncio.gather(*running, return_exceptions=True)
        self._pending.difference_update([job for job in self._pending if job.done()])

    async def _attempt(self, task: str, payload: Mapping[str, str]) -> None:
        delay = self._first_delay
        for attempt in range(1, self._attempts + 1):
            self._metrics.job_started(task)
            try:
                await self._run(task, payload)
            except Exception:  # noqa: BLE001 - any failure of a job means "retry"
                last = attempt == self._attempts
                self._metrics.job_ended(task, JobOutcome.FAILED if last else JobOutcome.RETRIED)
                if last:
                    _log.exception("job %s failed %d times; giving up", task, attempt)
                    return
                _log.warning("job %s failed (attempt %d); retrying in %.1fs", task, attempt, delay)
                await asyncio.sleep(delay)
                delay *= 2
            else:
                self._metrics.job_ended(task, JobOutcome.SUCCEEDED)
                return
