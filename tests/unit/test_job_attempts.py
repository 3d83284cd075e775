"""What a failed job run means: an outage waits without spending attempts; a fault spends one."""

from collections.abc import Iterator, Mapping

import pytest
from loguru import logger
from taskiq import InMemoryBroker

from adapters.taskiq.queue import TaskiqTaskQueue
from application.common.errors import DependencyUnavailableError
from entrypoints.worker.jobs import JobAttempts, JobRetryPolicy, JobRun

POLICY = JobRetryPolicy(max_attempts=3, retry_base_seconds=0.001)


class RecordingQueue(TaskiqTaskQueue):
    """Keeps each run enqueued instead of sending it to a broker."""

    def __init__(self) -> None:
        super().__init__(InMemoryBroker())
        self.enqueued: list[tuple[str, int]] = []

    async def enqueue_attempt(self, task: str, payload: Mapping[str, str], *, attempt: int) -> None:
        self.enqueued.append((task, attempt))


@pytest.fixture
def lines() -> Iterator[list[tuple[str, str]]]:
    captured: list[tuple[str, str]] = []
    sink = logger.add(
        lambda message: captured.append((message.record["level"].name, message.record["message"])),
        level="INFO",
    )
    yield captured
    logger.remove(sink)


async def _fails_with(exc: Exception) -> None:
    raise exc


async def test_an_outage_waits_as_the_same_attempt_without_a_line_per_run(
    lines: list[tuple[str, str]],
) -> None:
    queue = RecordingQueue()
    attempts = JobAttempts(queue)
    last = JobRun(task="t", payload={}, attempt=POLICY.max_attempts)
    down = DependencyUnavailableError("is unavailable; try again shortly", field="database")

    for _ in range(2 * POLICY.max_attempts):
        await attempts.settle(_fails_with(down), last, POLICY)

    assert queue.enqueued == [("t", POLICY.max_attempts)] * (2 * POLICY.max_attempts)
    assert lines == [], "the adapter that met the outage logs it, once for the process"


async def test_a_fault_spends_an_attempt_and_the_last_one_drops_the_job(
    lines: list[tuple[str, str]],
) -> None:
    queue = RecordingQueue()
    attempts = JobAttempts(queue)

    for attempt in range(1, POLICY.max_attempts + 1):
        run = JobRun(task="t", payload={"k": "v"}, attempt=attempt)
        await attempts.settle(_fails_with(ValueError("bad")), run, POLICY)

    assert queue.enqueued == [("t", 2), ("t", 3)]
    assert [level for level, _ in lines] == ["WARNING", "WARNING", "ERROR"], lines
    assert "giving up" in lines[-1][1]
