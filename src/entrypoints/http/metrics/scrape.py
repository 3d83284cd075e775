"""What one scrape answers: every count, and the shared backlogs read at a bounded rate."""

import asyncio
import time

from dishka import AsyncContainer

from adapters.prometheus.exposition import Backlogs
from adapters.prometheus.metrics import PrometheusMetrics
from adapters.system.outage_log import OutageLog
from application.common.ports.clock import Clock
from application.dashboard.ports import JobQueueDepth, OutboxBacklog

BACKLOG_CAP = 100_000
"""The outbox backlog is counted up to this, so a huge one costs no more to read."""


class MetricsScrape:
    """Renders the exposition; the backlogs come from the stores at most every `refresh_seconds`.

    - The outbox backlog and the age of its oldest event (PostgreSQL, one statement over
      the partial index of unsent rows, counting at most `BACKLOG_CAP`) and the job queue's
      depth are shared by every process, so one process reading them once per interval is
      enough however many scrapers ask and however often: scrapes in between reuse the
      last reading, and concurrent ones wait for the same read.
    - A store that cannot be read leaves its gauges out of the scrape (an absent series,
      which an alert can catch) and is logged once per outage.
    - The exposition itself is built in a worker thread: in multiprocess mode it reads
      every process's file, which must not hold up the requests this process serves.
    """

    def __init__(
        self,
        metrics: PrometheusMetrics,
        container: AsyncContainer,
        *,
        clock: Clock,
        refresh_seconds: float,
    ) -> None:
        self._metrics = metrics
        self._container = container
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self._backlogs = Backlogs()
        self._read_at: float | None = None
        self._lock = asyncio.Lock()
        self._outage = OutageLog("metrics: the backlogs", what_waits="their gauges are left out")

    async def render(self) -> bytes:
        """The text format, for a scraper."""
        await self._refresh()
        return await asyncio.to_thread(self._metrics.exposition, self._backlogs)

    async def _refresh(self) -> None:
        if not self._stale():
            return
        async with self._lock:
            if not self._stale():
                return
            self._backlogs = await self._read()
            self._read_at = time.monotonic()

    def _stale(self) -> bool:
        return self._read_at is None or time.monotonic() - self._read_at >= self._refresh_seconds

    async def _read(self) -> Backlogs:
        unsent: int | None = None
        oldest_age: float | None = None
        depth: int | None = None
        try:
            async with self._container() as request:
                outbox = await request.get(OutboxBacklog)
                backlog = await outbox.backlog(cap=BACKLOG_CAP)
                unsent = backlog.count
                oldest_age = 0.0
                if backlog.oldest_at is not None:
                    oldest_age = max(0.0, (self._clock.now() - backlog.oldest_at).total_seconds())
                queue = await request.get(JobQueueDepth)
                depth = await queue.depth()
        except Exception as exc:  # noqa: BLE001 - a scrape must answer whatever is down
            self._outage.down(exc)
        else:
            self._outage.up()
        return Backlogs(
            outbox_unsent=unsent, outbox_oldest_age_seconds=oldest_age, job_queue_depth=depth
        )
