"""Providers of the live dashboard: its shared figures, this process's recorder, its readers."""

from collections.abc import AsyncIterator

from dishka import Provider, Scope, decorate, provide, provide_all
from redis.asyncio import Redis

from adapters.inprocess.dashboard import InProcessDashboardFigures
from adapters.inprocess.task_queue import InProcessTaskQueue
from adapters.redis.dashboard import RedisDashboardFigures, RedisJobQueueDepth
from adapters.sqlalchemy.dashboard import SqlOutboxBacklog
from application.audit.context import this_process
from application.common.ports.clock import Clock
from application.common.ports.events import EventPublisher
from application.common.ports.task_queue import TaskQueue
from application.dashboard.count_published_events import CountPublishedEvents
from application.dashboard.ports import DashboardFigures, JobQueueDepth, OutboxBacklog
from application.dashboard.read_dashboard import ReadDashboard
from application.dashboard.recorder import FigureRecorder
from entrypoints.config.settings import Settings
from entrypoints.ioc.markers import JOBS_ON_REDIS, REDIS


def workers_group(settings: Settings) -> str:
    """The consumer group `portico worker` reads jobs in (`ioc.delivery.TaskQueueProvider`)."""
    return f"{settings.app.name}-workers"


class DashboardProvider(Provider):
    """Figures in Redis when it is set, shared by every process; else in this process."""

    @provide(scope=Scope.APP, when=REDIS)
    def figures_in_redis(self, client: Redis, settings: Settings) -> DashboardFigures:
        """Every API process and worker adds to the same keys."""
        return RedisDashboardFigures(client, prefix=f"{settings.app.name}:dashboard:")

    @provide(scope=Scope.APP, when=~REDIS)
    def figures_in_memory(self) -> DashboardFigures:
        """Embedded mode: one process serves everything, so its memory is the whole picture."""
        return InProcessDashboardFigures()

    @provide(scope=Scope.APP)
    async def recorder(
        self, figures: DashboardFigures, clock: Clock
    ) -> AsyncIterator[FigureRecorder]:
        """The counts of the process, reported as ``host:pid``; the last sent on closing."""
        recorder = FigureRecorder(figures, clock, process=this_process())
        yield recorder
        await recorder.close()

    @decorate
    def counted(self, publisher: EventPublisher, recorder: FigureRecorder) -> EventPublisher:
        """Whatever the bus, count the sign-ups, articles and comments it publishes."""
        return CountPublishedEvents(publisher, recorder)

    outbox_backlog = provide(SqlOutboxBacklog, provides=OutboxBacklog, scope=Scope.REQUEST)

    @provide(scope=Scope.APP, when=JOBS_ON_REDIS)
    def jobs_on_redis(self, client: Redis, settings: Settings) -> JobQueueDepth:
        """The workers' group on the jobs stream."""
        return RedisJobQueueDepth(
            client, stream=settings.queue.stream, group=workers_group(settings)
        )

    @provide(scope=Scope.APP, when=~JOBS_ON_REDIS)
    def jobs_in_process(self, queue: TaskQueue) -> JobQueueDepth:
        """The in-process queue counts its own unfinished jobs."""
        if not isinstance(queue, InProcessTaskQueue):
            raise TypeError(f"{type(queue).__name__} cannot tell how many jobs wait")
        return queue

    use_cases = provide_all(ReadDashboard, scope=Scope.REQUEST)
