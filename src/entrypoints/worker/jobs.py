"""Jobs: from a job's name to its use case, and the taskiq task that runs them."""

import asyncio
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID

from dishka import AsyncContainer
from dishka.integrations.taskiq import FromDishka, inject
from loguru import logger
from opentelemetry.trace import SpanKind
from taskiq import AsyncBroker, Context, TaskiqDepends

from adapters.inprocess.metrics import NO_METRICS
from adapters.opentelemetry.propagation import TRACEPARENT
from adapters.opentelemetry.spans import operation, resumed
from adapters.taskiq.queue import RUN_JOB, TaskiqTaskQueue
from application.audit.archive_audit_entries import ARCHIVE_AUDIT_ENTRIES, ArchiveAuditEntries
from application.audit.capture import acting_on_its_own
from application.audit.context import this_process
from application.audit.sign_audit_checkpoint import SIGN_AUDIT_CHECKPOINT, SignAuditCheckpoint
from application.common.errors import DependencyUnavailableError
from application.common.ports.metrics import JobMetrics, JobOutcome
from application.events.purge_outbox import PURGE_SENT_EVENTS, PurgeOutbox, PurgeOutboxCommand
from application.events.purge_processed_events import (
    PURGE_PROCESSED_EVENTS,
    PurgeProcessedEvents,
    PurgeProcessedEventsCommand,
)
from application.files.collect_file_garbage import (
    COLLECT_FILE_GARBAGE,
    CollectFileGarbage,
    CollectFileGarbageCommand,
)
from application.files.make_thumbnail import MAKE_THUMBNAIL, MakeThumbnail, MakeThumbnailCommand
from application.notifications.deliver_notification import (
    DELIVER_NOTIFICATION,
    DeliverNotification,
    DeliverNotificationCommand,
)
from application.notifications.fan_out_to_followers import (
    FAN_OUT_TO_FOLLOWERS,
    FanOutToFollowers,
    FanOutToFollowersCommand,
)
from application.notifications.purge_old_notifications import (
    PURGE_OLD_NOTIFICATIONS,
    PurgeOldNotifications,
    PurgeOldNotificationsCommand,
)
from application.notifications.send_templated_email import (
    SEND_TEMPLATED_EMAIL,
    SendTemplatedEmail,
    SendTemplatedEmailCommand,
)
from application.notifications.send_templated_sms import (
    SEND_TEMPLATED_SMS,
    SendTemplatedSms,
    SendTemplatedSmsCommand,
)
from application.users.issue_password_reset import (
    ISSUE_PASSWORD_RESET,
    IssuePasswordReset,
    IssuePasswordResetCommand,
)
from application.users.purge_ended_credentials import (
    PURGE_ENDED_CREDENTIALS,
    PurgeEndedCredentials,
    PurgeEndedCredentialsCommand,
)
from domain.audit.entry import ActorKind, AuditActor
from domain.files.values import FileId
from entrypoints.config import Settings


async def run_job(request: AsyncContainer, task: str, payload: Mapping[str, str]) -> None:
    """Run the use case a job names, in the request scope given; LookupError if none.

    What it changes is audited as done by this worker process. It runs in a span of its
    own (``job <name>``), a child of the trace the job was enqueued in.
    """
    with (
        operation(f"job {task}", kind=SpanKind.CONSUMER, attributes={"portico.job.name": task}),
        acting_on_its_own(AuditActor.process_of(ActorKind.WORKER, this_process())),
    ):
        await _run_job(request, task, payload)


async def _run_job(request: AsyncContainer, task: str, payload: Mapping[str, str]) -> None:
    if task in PERIODIC_JOBS:
        await run_periodic_job(request, task)
    elif task == SEND_TEMPLATED_EMAIL:
        send = await request.get(SendTemplatedEmail)
        await send(SendTemplatedEmailCommand.from_payload(payload))
    elif task == DELIVER_NOTIFICATION:
        deliver = await request.get(DeliverNotification)
        await deliver(DeliverNotificationCommand.from_payload(payload))
    elif task == FAN_OUT_TO_FOLLOWERS:
        fan_out = await request.get(FanOutToFollowers)
        await fan_out(FanOutToFollowersCommand.from_payload(payload))
    elif task == SEND_TEMPLATED_SMS:
        send_sms = await request.get(SendTemplatedSms)
        await send_sms(SendTemplatedSmsCommand.from_payload(payload))
    elif task == ISSUE_PASSWORD_RESET:
        issue = await request.get(IssuePasswordReset)
        await issue(IssuePasswordResetCommand(email=payload["email"]))
    elif task == MAKE_THUMBNAIL:
        settings = await request.get(Settings)
        make_thumbnail = await request.get(MakeThumbnail)
        await make_thumbnail(
            MakeThumbnailCommand(
                file_id=FileId(UUID(payload["file_id"])),
                max_edge=settings.storage.thumbnail_max_edge,
                max_pixels=settings.storage.max_image_pixels,
            )
        )
    else:
        raise LookupError(f"no job is registered as {task!r}")


_REQUEUE_WAIT_SECONDS = 2.0
"""The longest wait between tries to enqueue a job's next run while Redis is down."""

PERIODIC_JOBS = (
    PURGE_ENDED_CREDENTIALS,
    PURGE_SENT_EVENTS,
    PURGE_PROCESSED_EVENTS,
    PURGE_OLD_NOTIFICATIONS,
    COLLECT_FILE_GARBAGE,
    SIGN_AUDIT_CHECKPOINT,
    ARCHIVE_AUDIT_ENTRIES,
)
"""The jobs `portico scheduler` enqueues on a timer."""

ORPHAN_GRACE_FLOOR = timedelta(days=1)
"""The least age of an object no record names before it is collected."""


def file_garbage_command(settings: Settings, *, dry_run: bool = False) -> CollectFileGarbageCommand:
    """The collection the scheduler runs, and `portico files gc` too.

    The orphan grace must outlast the longest upload: an upload through the API (like a
    thumbnail being made) stores its object before the record naming it commits, so an
    unnamed object younger than the grace may be one still in flight, and S3 dates a
    multipart object from when its upload began. The grace is a day, or
    FILES_PENDING_TTL_SECONDS when longer: far past any upload the size limits allow, at
    the cost of an orphan's bytes lingering that long.
    """
    pending_ttl = timedelta(seconds=settings.storage.pending_ttl_seconds)
    return CollectFileGarbageCommand(
        pending_ttl=pending_ttl, orphan_grace=max(ORPHAN_GRACE_FLOOR, pending_ttl), dry_run=dry_run
    )


async def run_periodic_job(request: AsyncContainer, task: str) -> None:
    """The housekeeping jobs, with their retention from settings."""
    settings = await request.get(Settings)
    if task == PURGE_ENDED_CREDENTIALS:
        purge_credentials = await request.get(PurgeEndedCredentials)
        report = await purge_credentials(
            PurgeEndedCredentialsCommand(
                grace=timedelta(seconds=settings.scheduler.credentials_grace_seconds)
            )
        )
        logger.info("purged {} sessions and {} tokens", report.sessions, report.tokens)
    elif task == PURGE_SENT_EVENTS:
        purge_outbox = await request.get(PurgeOutbox)
        purged = await purge_outbox(
            PurgeOutboxCommand(retention=timedelta(seconds=settings.outbox.retention_seconds))
        )
        logger.info("purged {} sent events", purged)
    elif task == PURGE_PROCESSED_EVENTS:
        purge_processed = await request.get(PurgeProcessedEvents)
        forgotten = await purge_processed(
            PurgeProcessedEventsCommand(
                retention=timedelta(seconds=settings.outbox.processed_events_retention_seconds)
            )
        )
        logger.info("purged {} processed-event records", forgotten)
    elif task == PURGE_OLD_NOTIFICATIONS:
        purge_notifications = await request.get(PurgeOldNotifications)
        removed = await purge_notifications(
            PurgeOldNotificationsCommand(
                retention=timedelta(days=settings.notifications.retention_days)
            )
        )
        logger.info("purged {} old notifications", removed)
    elif task == COLLECT_FILE_GARBAGE:
        collect = await request.get(CollectFileGarbage)
        garbage = await collect(file_garbage_command(settings))
        logger.info(
            "collected {} expired uploads, {} discarded files and {} orphan objects ({} bytes)",
            garbage.expired_uploads,
            garbage.discarded_records,
            garbage.orphan_objects,
            garbage.orphan_bytes,
        )
    elif task in (SIGN_AUDIT_CHECKPOINT, ARCHIVE_AUDIT_ENTRIES):
        await _run_audit_job(request, task)


async def _run_audit_job(request: AsyncContainer, task: str) -> None:
    """Sign the chain's head, or apply the retention period.

    A signed checkpoint is logged by the use case itself, with the head's hash: that line,
    shipped away from the database, is the chain's anchor outside it. A chain that breaks
    inside the batch due for archiving is an ERROR at every run until someone looks: the
    job archives and deletes nothing from the break on, and retrying would not mend it.
    """
    if task == SIGN_AUDIT_CHECKPOINT:
        sign = await request.get(SignAuditCheckpoint)
        if await sign() is None:
            logger.info("audit checkpoint: no entry since the last one; nothing signed")
        return
    archive = await request.get(ArchiveAuditEntries)
    report = await archive()
    if report.archived:
        logger.info(
            "archived {} audit entries through entry {}; the last batch is {}",
            report.archived,
            report.through_seq,
            report.location,
        )
    if report.broken is not None:
        logger.error(
            "audit retention stopped: entry {}: {}: {}; nothing from there on was archived "
            "or deleted: run 'portico audit verify' and see docs/audit.md",
            report.broken.seq,
            report.broken.kind.value,
            report.broken.detail,
        )
    elif not report.archived:
        logger.info("no audit entry is past its retention period")


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRetryPolicy:
    """How often a failing job runs, and how long it waits between runs: doubling."""

    max_attempts: int
    retry_base_seconds: float

    def delay(self, attempt: int) -> float:
        """The wait after failed run number `attempt`."""
        return float(min(self.retry_base_seconds * 2 ** (attempt - 1), 300.0))


def register_jobs(broker: AsyncBroker, metrics: JobMetrics = NO_METRICS) -> None:
    """Declare the taskiq task that runs every job, with dishka injecting per message.

    What a failed run does is `JobAttempts.settle`'s business. The message is acknowledged
    only once the task returns, so a worker that dies while a job waits leaves it to be
    redelivered. A run continues the trace its message's ``traceparent`` label names.
    """
    attempts = JobAttempts(TaskiqTaskQueue(broker), metrics=metrics)

    @inject(patch_module=True)
    async def portico_run_job(
        task: str,
        payload: dict[str, str],
        attempt: int,
        *,
        request: FromDishka[AsyncContainer],
        policy: FromDishka[JobRetryPolicy],
        context: Annotated[Context, TaskiqDepends()],
    ) -> None:
        with resumed(context.message.labels.get(TRACEPARENT)):
            await attempts.settle(
                run_job(request, task, payload),
                JobRun(task=task, payload=payload, attempt=attempt),
                policy,
            )

    broker.register_task(portico_run_job, task_name=RUN_JOB)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRun:
    """One run of a job, as its message names it."""

    task: str
    payload: Mapping[str, str]
    attempt: int


class JobAttempts:
    """Runs a job and decides what its failure means.

    - A dependency that is down (`DependencyUnavailableError`: the database, the job queue,
      the realtime hub) is not the job's fault: the run is enqueued again after a short
      wait, as the same attempt, however long the outage lasts. Nothing is logged per run:
      the adapter that met the outage logs it, and its end, once for the process.
    - Any other failure spends an attempt: one WARNING, the backoff of `JobRetryPolicy`, then
      the next attempt; after the last, one ERROR and the job is dropped.

    While Redis is down the next run waits for it rather than being dropped: the job in hand
    may be the only record of it. Each run is counted while it runs, then by how it ended
    (`JobMetrics`).
    """

    def __init__(self, queue: TaskiqTaskQueue, *, metrics: JobMetrics = NO_METRICS) -> None:
        self._queue = queue
        self._metrics = metrics

    async def settle(
        self, running: Coroutine[Any, Any, None], run: JobRun, policy: JobRetryPolicy
    ) -> None:
        """Await the job's run, then act on how it ended."""
        self._metrics.job_started(run.task)
        try:
            await running
        except DependencyUnavailableError:
            self._metrics.job_ended(run.task, JobOutcome.DEFERRED)
            await asyncio.sleep(min(policy.retry_base_seconds, _REQUEUE_WAIT_SECONDS))
            await self._requeue(run, attempt=run.attempt)
        except Exception as exc:  # noqa: BLE001 - any other failure of a job means "retry"
            last = run.attempt >= policy.max_attempts
            self._metrics.job_ended(run.task, JobOutcome.FAILED if last else JobOutcome.RETRIED)
            if last:
                logger.error("job {} failed {} times; giving up: {}", run.task, run.attempt, exc)
                return
            delay = policy.delay(run.attempt)
            logger.warning(
                "job {} failed (attempt {}); retrying in {:.1f}s", run.task, run.attempt, delay
            )
            await asyncio.sleep(delay)
            await self._requeue(run, attempt=run.attempt + 1)
        else:
            self._metrics.job_ended(run.task, JobOutcome.SUCCEEDED)

    async def _requeue(self, run: JobRun, *, attempt: int) -> None:
        """Enqueue the job's next run, trying again while Redis is down."""
        wait = 0.1
        while True:
            try:
                await self._queue.enqueue_attempt(run.task, run.payload, attempt=attempt)
            except DependencyUnavailableError:
                await asyncio.sleep(wait)
                wait = min(wait * 2, _REQUEUE_WAIT_SECONDS)
            else:
                return
