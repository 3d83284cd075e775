"""Jobs: from a job's name to its use case, and the taskiq task that runs them."""

import asyncio
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from dishka import AsyncContainer
from dishka.integrations.taskiq import FromDishka, inject
from loguru import logger
from taskiq import AsyncBroker

from adapters.taskiq.queue import RUN_JOB, TaskiqTaskQueue
from application.common.errors import DependencyUnavailableError
from application.events.purge_outbox import PURGE_SENT_EVENTS, PurgeOutbox, PurgeOutboxCommand
from application.events.purge_processed_events import (
    PURGE_PROCESSED_EVENTS,
    PurgeProcessedEvents,
    PurgeProcessedEventsCommand,
)
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
from entrypoints.config import Settings


async def run_job(request: AsyncContainer, task: str, payload: Mapping[str, str]) -> None:
    """Run the use case a job names, in the request scope given; LookupError if none."""
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
    else:
        raise LookupError(f"no job is registered as {task!r}")


_REQUEUE_WAIT_SECONDS = 2.0
"""The longest wait between tries to enqueue a job's next run while Redis is down."""

PERIODIC_JOBS = (
    PURGE_ENDED_CREDENTIALS,
    PURGE_SENT_EVENTS,
    PURGE_PROCESSED_EVENTS,
    PURGE_OLD_NOTIFICATIONS,
)
"""The jobs `portico scheduler` enqueues on a timer."""


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


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRetryPolicy:
    """How often a failing job runs, and how long it waits between runs: doubling."""

    max_attempts: int
    retry_base_seconds: float

    def delay(self, attempt: int) -> float:
        """The wait after failed run number `attempt`."""
        return float(min(self.retry_base_seconds * 2 ** (attempt - 1), 300.0))


def register_jobs(broker: AsyncBroker) -> None:
    """Declare the taskiq task that runs every job, with dishka injecting per message.

    What a failed run does is `JobAttempts.settle`'s business. The message is acknowledged
    only once the task returns, so a worker that dies while a job waits leaves it to be
    redelivered.
    """
    attempts = JobAttempts(TaskiqTaskQueue(broker))

    @inject(patch_module=True)
    async def portico_run_job(
        task: str,
        payload: dict[str, str],
        attempt: int,
        request: FromDishka[AsyncContainer],
        policy: FromDishka[JobRetryPolicy],
    ) -> None:
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
    may be the only record of it.
    """

    def __init__(self, queue: TaskiqTaskQueue) -> None:
        self._queue = queue

    async def settle(
        self, running: Coroutine[Any, Any, None], run: JobRun, policy: JobRetryPolicy
    ) -> None:
        """Await the job's run, then act on how it ended."""
        try:
            await running
        except DependencyUnavailableError:
            await asyncio.sleep(min(policy.retry_base_seconds, _REQUEUE_WAIT_SECONDS))
            await self._requeue(run, attempt=run.attempt)
        except Exception as exc:  # noqa: BLE001 - any other failure of a job means "retry"
            if run.attempt >= policy.max_attempts:
                logger.error("job {} failed {} times; giving up: {}", run.task, run.attempt, exc)
                return
            delay = policy.delay(run.attempt)
            logger.warning(
                "job {} failed (attempt {}); retrying in {:.1f}s", run.task, run.attempt, delay
            )
            await asyncio.sleep(delay)
            await self._requeue(run, attempt=run.attempt + 1)

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
