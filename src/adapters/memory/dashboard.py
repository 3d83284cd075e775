"""The dashboard's readers in memory: the outbox backlog, and a job queue depth tests set."""

from adapters.memory.database import InMemoryDatabase
from adapters.memory.outbox import InMemoryOutboxReader
from application.dashboard.ports import Backlog, JobQueueDepth, OutboxBacklog


class InMemoryOutboxBacklog(OutboxBacklog):
    """The `OutboxBacklog` port over the in-memory database's outbox."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._reader = InMemoryOutboxReader(database)

    async def backlog(self, *, cap: int) -> Backlog:
        """The unsent messages, counted up to `cap`."""
        unsent = await self._reader.pending(limit=cap)
        return Backlog(
            count=len(unsent),
            capped=len(unsent) >= cap,
            oldest_at=unsent[0].event.occurred_at if unsent else None,
        )


class FixedJobQueueDepth(JobQueueDepth):
    """The `JobQueueDepth` port answering what a test sets in `jobs`."""

    def __init__(self, jobs: int = 0) -> None:
        self.jobs = jobs

    async def depth(self) -> int:
        """The number set."""
        return self.jobs
