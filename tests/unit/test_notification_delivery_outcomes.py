"""DeliverNotification's outcomes on in-memory adapters: failures recorded and retried,
outcomes the database lost, nothing sent twice, and the sweep of lost deliveries."""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

import pytest

from adapters.memory.database import InMemoryDatabase
from adapters.memory.system import ManualClock, SequentialIdGenerator
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from application.common.errors import ConnectionLostError, OutcomeUnknownError
from application.common.outbox import OutboxMessage
from application.notifications.deliver_notification import DeliverNotificationCommand
from application.notifications.delivery_policy import DeliverySweepPolicy
from application.notifications.ports import DeliveryStatus, EmailMessage
from application.notifications.requeue_stale_deliveries import RequeueStaleDeliveries
from domain.notifications.notification import Channel
from tests.support.notification_fakes import FlakyMailer, RecordingQueue
from tests.support.notification_world import SWEEP, NotificationWorld


@pytest.fixture
def world() -> NotificationWorld:
    return NotificationWorld()


@dataclass
class DatabaseOutage:
    """The database going away: its next `failing_commits` commits fail.

    Each failed commit takes `each_takes` of the clock. With `commits_land`, a commit goes
    through and only its answer is lost (`OutcomeUnknownError`), as when the connection dies
    after COMMIT was sent; otherwise nothing is saved (`ConnectionLostError`).
    """

    clock: ManualClock
    each_takes: timedelta = timedelta(seconds=1)
    commits_land: bool = False
    failing_commits: int = 0
    failed_commits: int = 0
    began: asyncio.Event = field(default_factory=asyncio.Event)


class UnitOfWorkThroughOutages(InMemoryUnitOfWork):
    """The in-memory unit of work, whose commits fail while `outage` lasts."""

    def __init__(
        self, database: InMemoryDatabase, ids: SequentialIdGenerator, outage: DatabaseOutage
    ) -> None:
        super().__init__(database, ids)
        self._outage = outage

    async def commit(self, *, refusing: BaseException | None = None) -> Sequence[OutboxMessage]:
        outage = self._outage
        if not outage.failing_commits:
            return await super().commit(refusing=refusing)
        outage.failing_commits -= 1
        outage.failed_commits += 1
        outage.clock.advance(outage.each_takes)
        if outage.commits_land:
            await super().commit(refusing=refusing)
            raise OutcomeUnknownError("lost after the commit was sent", field="database")
        raise ConnectionLostError("the connection was lost", field="database")


class MailerThenOutage(FlakyMailer):
    """Sends, then the database goes away for `commits` commits: the outcome cannot be saved."""

    def __init__(self, outage: DatabaseOutage, *, commits: int) -> None:
        super().__init__()
        self._outage = outage
        self._commits = commits

    async def send(self, message: EmailMessage) -> None:
        await super().send(message)
        self._outage.failing_commits = self._commits
        self._outage.began.set()


async def test_a_failed_email_is_recorded_raised_and_retried(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob", verified=True)
    notification = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.EMAIL)
    world.mailer.down = True
    with pytest.raises(ConnectionError, match="SMTP server is down"):
        await world.deliver()(command)
    record = await world.deliveries.get(notification.id, Channel.EMAIL)
    assert record is not None
    assert (record.status, record.attempts) == (DeliveryStatus.FAILED, 1)
    assert record.detail == repr(ConnectionError("the SMTP server is down"))
    assert await world.notifications.get(notification.id) is not None
    assert [n.id for n in world.stored()] == [notification.id]
    world.mailer.down = False
    world.clock.advance(timedelta(minutes=1))
    assert await world.deliver()(command) is DeliveryStatus.SENT
    record = await world.deliveries.get(notification.id, Channel.EMAIL)
    assert record is not None
    assert (record.status, record.attempts, record.detail) == (DeliveryStatus.SENT, 2, None)
    assert record.updated_at == world.clock.now()
    assert [m.to for m in world.mailer.sent] == ["bob@test.com"]


def outage_after_the_email(
    world: NotificationWorld, *, commits: int, commits_land: bool = False
) -> tuple[DatabaseOutage, InMemoryUnitOfWork]:
    """The database goes away for `commits` commits once the email is sent; the run's uow."""
    outage = DatabaseOutage(clock=world.clock, commits_land=commits_land)
    world.mailer = MailerThenOutage(outage, commits=commits)
    return outage, UnitOfWorkThroughOutages(world.database, world.ids, outage)


async def test_an_email_whose_outcome_the_database_lost_once_is_recorded_not_sent_again(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob", verified=True)
    notification = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.EMAIL)
    outage, uow = outage_after_the_email(world, commits=1)
    assert await world.deliver(uow=uow)(command) is DeliveryStatus.SENT
    assert outage.failed_commits == 1
    record = await world.deliveries.get(notification.id, Channel.EMAIL)
    assert record is not None
    assert (record.status, record.attempts) == (DeliveryStatus.SENT, 1)
    # Neither a redelivered job nor the sweep, once the claim would be stale, sends it again.
    world.clock.advance(SWEEP.stale_after * 2)
    assert await world.deliver()(command) is None
    queue = RecordingQueue()
    await RequeueStaleDeliveries(world.uow(), world.deliveries, queue, world.clock, SWEEP)()
    assert all(payload["channel"] != Channel.EMAIL.value for _, payload in queue.jobs)
    assert [m.to for m in world.mailer.sent] == ["bob@test.com"]


async def test_an_outcome_saved_by_a_commit_whose_answer_was_lost_counts_once(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob", verified=True)
    notification = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.EMAIL)
    outage, uow = outage_after_the_email(world, commits=1, commits_land=True)
    assert await world.deliver(uow=uow)(command) is DeliveryStatus.SENT
    assert outage.failed_commits == 1
    record = await world.deliveries.get(notification.id, Channel.EMAIL)
    assert record is not None
    assert (record.status, record.attempts) == (DeliveryStatus.SENT, 1)
    assert len(world.mailer.sent) == 1


async def test_while_a_run_retries_its_outcome_no_one_else_may_send_the_delivery(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob", verified=True)
    notification = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.EMAIL)
    outage, uow = outage_after_the_email(world, commits=1_000)
    outage.each_takes = timedelta(seconds=7)
    instant = DeliverySweepPolicy(
        stale_after=SWEEP.stale_after,
        first_retry_wait=timedelta(0),
        longest_retry_wait=timedelta(0),
    )
    claimed_at = world.clock.now()
    queue = RecordingQueue()
    sweep = RequeueStaleDeliveries(world.uow(), world.deliveries, queue, world.clock, SWEEP)
    run = asyncio.ensure_future(world.deliver(uow=uow, sweep=instant)(command))
    await outage.began.wait()
    others: list[DeliveryStatus | None] = []
    while not run.done():
        # Only the run's own connection is down: the sweep and other runs reach the database.
        await sweep()
        others.append(await world.deliver()(command))
        await asyncio.sleep(0)
    with pytest.raises(ConnectionLostError):
        await run
    assert outage.failed_commits > 5
    assert world.clock.now() < claimed_at + SWEEP.stale_after
    assert others
    assert set(others) == {None}
    assert all(payload["channel"] != Channel.EMAIL.value for _, payload in queue.jobs)
    assert len(world.mailer.sent) == 1
    # Its run gave up with its claim still fresh; only once stale is the delivery run again.
    world.clock.advance(SWEEP.stale_after)
    await sweep()
    assert any(payload["channel"] == Channel.EMAIL.value for _, payload in queue.jobs)


async def test_a_sent_or_skipped_delivery_is_not_repeated(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob", verified=True)
    notification = await world.notified(bob, ada)
    email = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.EMAIL)
    push = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.PUSH)
    assert await world.deliver()(email) is DeliveryStatus.SENT
    assert await world.deliver()(push) is DeliveryStatus.SKIPPED
    await world.subscription(bob, "https://push.example.test/new")
    assert await world.deliver()(email) is None
    assert await world.deliver()(push) is None
    assert len(world.mailer.sent) == 1
    assert not world.push.sent
    records = await world.deliveries.for_notification(notification.id)
    assert [(r.channel, r.status, r.attempts) for r in records] == [
        (Channel.EMAIL, DeliveryStatus.SENT, 1),
        (Channel.IN_APP, DeliveryStatus.PENDING, 0),
        (Channel.PUSH, DeliveryStatus.SKIPPED, 1),
    ]


async def test_deliveries_are_pending_from_the_notifications_commit_and_swept_when_lost(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob", verified=True)
    notification = await world.notified(bob, ada)
    records = await world.deliveries.for_notification(notification.id)
    assert {(r.channel, r.status) for r in records} == {
        (channel, DeliveryStatus.PENDING) for channel in notification.channels
    }
    queue = RecordingQueue()
    sweep = RequeueStaleDeliveries(
        world.uow(),
        world.deliveries,
        queue,
        world.clock,
        SWEEP,
    )
    assert await sweep() == 0
    email = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.EMAIL)
    assert await world.deliver()(email) is DeliveryStatus.SENT
    world.clock.advance(timedelta(minutes=3))
    assert await sweep() == len(notification.channels) - 1
    requeued = {DeliverNotificationCommand.from_payload(payload) for _, payload in queue.jobs}
    assert requeued == {
        DeliverNotificationCommand(notification_id=notification.id, channel=channel)
        for channel in notification.channels - {Channel.EMAIL}
    }
    assert await sweep() == 0


async def test_a_delivery_of_an_unknown_notification_does_nothing(
    world: NotificationWorld,
) -> None:
    command = DeliverNotificationCommand(notification_id=UUID(int=999), channel=Channel.EMAIL)
    assert await world.deliver()(command) is None
    assert world.mailer.sent == []
