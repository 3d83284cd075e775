"""Creating notifications for recipients, and scheduling their deliveries once committed."""

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from uuid import UUID

from application.common.errors import DependencyUnavailableError
from application.common.ports.clock import Clock
from application.common.ports.ids import IdGenerator
from application.common.ports.task_queue import TaskQueue
from application.common.ports.unit_of_work import UnitOfWork
from application.notifications.deliver_notification import (
    DELIVER_NOTIFICATION,
    DeliverNotificationCommand,
)
from application.notifications.ports import (
    DeliveryLog,
    NotificationPreferencesRepository,
    NotificationRepository,
)
from application.notifications.repeat_policy import RepeatPolicy
from domain.notifications.notification import Channel, Notification, NotificationKind, Subject
from domain.users.values import UserId

MAILED_AT_COMMIT: Mapping[NotificationKind, frozenset[Channel]] = MappingProxyType(
    {NotificationKind.PASSWORD_CHANGED: frozenset({Channel.EMAIL})}
)
"""Channels a kind never uses, because the change's own use case already sent that message
(a security notice mailed when the change commits, to the address on file then): the
notification must not send it twice. The preference stays shown, and locked, for it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationDraft:
    """What every recipient of one happening is told; `source` is the event's id."""

    kind: NotificationKind
    actor_id: UserId | None
    subject: Subject
    source: str
    data: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


class NotificationFactory:
    """Turns a draft into stored notifications, one per recipient who wants any channel.

    Shared by the use cases that notify one user and those that fan out to followers, so
    both apply preferences, idempotency and delivery scheduling the same way.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        notifications: NotificationRepository,
        preferences: NotificationPreferencesRepository,
        deliveries: DeliveryLog,
        queue: TaskQueue,
        clock: Clock,
        ids: IdGenerator,
        repeats: RepeatPolicy,
    ) -> None:
        self._uow = uow
        self._notifications = notifications
        self._preferences = preferences
        self._deliveries = deliveries
        self._queue = queue
        self._clock = clock
        self._ids = ids
        self._repeats = repeats

    async def create(
        self, draft: NotificationDraft, recipients: Sequence[UserId]
    ) -> Sequence[Notification]:
        """Store the new notifications in the open transaction; deliver them after commit.

        A recipient who already has a notification from this source is skipped, so running
        this again for the same event changes nothing and sends nothing twice. The actor
        is never told about their own doing. Each delivery is recorded as pending in the
        same transaction: if the process dies before the jobs are enqueued, the sweep
        (`RequeueStaleDeliveries`) enqueues them later. A recipient this actor already told
        of this kind within the kind's quiet period (`RepeatPolicy`) is skipped too. Channels
        in `MAILED_AT_COMMIT` are left out whatever the preferences say.
        """
        wanted = [user for user in dict.fromkeys(recipients) if user != draft.actor_id]
        now = self._clock.now()
        quiet = self._repeats.quiet_period(draft.kind)
        if wanted and quiet is not None and draft.actor_id is not None:
            told = await self._notifications.recipients_told_since(
                draft.kind, draft.actor_id, wanted, since=now - quiet
            )
            wanted = [user for user in wanted if user not in told]
        if not wanted:
            return []
        preferences = await self._preferences.get_many(wanted)
        left_out = MAILED_AT_COMMIT.get(draft.kind, frozenset())
        drafts = [
            Notification(
                id=self._ids.new_id(),
                recipient_id=recipient,
                kind=draft.kind,
                actor_id=draft.actor_id,
                subject=draft.subject,
                source=draft.source,
                channels=channels,
                created_at=now,
                data=draft.data,
            )
            for recipient in wanted
            if (channels := preferences[recipient].channels_for(draft.kind) - left_out)
        ]
        stored = await self._notifications.add_new(drafts) if drafts else []
        if stored:
            deliveries = [
                (notification.id, channel)
                for notification in stored
                for channel in Channel
                if channel in notification.channels
            ]
            await self._deliveries.add_pending(deliveries, at=now)
            self._uow.after_commit(lambda: _enqueue_or_leave_to_sweep(self._queue, deliveries))
        return stored


async def _enqueue_or_leave_to_sweep(
    queue: TaskQueue, deliveries: Sequence[tuple[UUID, Channel]]
) -> None:
    """`enqueue_deliveries`, where a queue that is down is no failure to report.

    The deliveries stay pending, and the sweep enqueues them once the queue is back; the
    queue's adapter logs its outage once, where a failure here would log every commit.
    """
    with contextlib.suppress(DependencyUnavailableError):
        await enqueue_deliveries(queue, deliveries)


ENQUEUE_CONCURRENCY = 64
"""Jobs enqueued at once: a fan-out batch's thousand jobs must not cost a thousand round
trips one after another."""


async def enqueue_deliveries(queue: TaskQueue, deliveries: Sequence[tuple[UUID, Channel]]) -> None:
    """One job per notification and channel, so each is retried on its own.

    A job that cannot be enqueued leaves its delivery pending for the sweep; the error is
    raised once the others were tried.
    """
    payloads = [
        DeliverNotificationCommand(notification_id=notification_id, channel=channel).as_payload()
        for notification_id, channel in deliveries
    ]
    failures: list[BaseException] = []
    for start in range(0, len(payloads), ENQUEUE_CONCURRENCY):
        chunk = payloads[start : start + ENQUEUE_CONCURRENCY]
        outcomes = await asyncio.gather(
            *(queue.enqueue(DELIVER_NOTIFICATION, payload) for payload in chunk),
            return_exceptions=True,
        )
        failures.extend(outcome for outcome in outcomes if isinstance(outcome, BaseException))
    if failures:
        raise failures[0]
