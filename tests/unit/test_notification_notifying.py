"""NotificationFactory and NotifyUser on in-memory adapters: who is told, on which channels,
once per source, and delivery jobs only for committed notifications."""

from collections.abc import Mapping
from uuid import UUID

import pytest

from adapters.memory.notifications.inbox import NOTIFICATIONS
from application.notifications.deliver_notification import (
    DELIVER_NOTIFICATION,
    DeliverNotificationCommand,
)
from application.notifications.notify_user import NotifyUserCommand
from application.notifications.update_notification_preferences import (
    UpdateNotificationPreferencesCommand,
)
from domain.notifications.notification import Channel, Notification, NotificationKind
from tests.support.notification_drafts import draft
from tests.support.notification_world import NotificationWorld


@pytest.fixture
def world() -> NotificationWorld:
    return NotificationWorld()


async def test_the_recipients_preferences_pick_the_channels(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    [first] = await world.notify(bob, draft(ada, source="e1"))
    assert first.channels == {Channel.IN_APP, Channel.EMAIL, Channel.PUSH}
    assert (first.recipient_id, first.actor_id, first.source) == (bob, ada, "e1")
    assert first.created_at == world.clock.now()
    assert dict(first.data) == {"actor_username": "ada"}
    await world.update_preferences()(
        UpdateNotificationPreferencesCommand(
            user_id=bob, changes={"new_follower": {"email": False, "sms": True}}
        )
    )
    [second] = await world.notify(bob, draft(ada, source="e2"))
    assert second.channels == {Channel.IN_APP, Channel.PUSH, Channel.SMS}
    assert [n.id for n in world.stored_for(bob)] == sorted([first.id, second.id])


async def test_no_wanted_channel_stores_nothing_and_sends_nothing(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    await world.update_preferences()(
        UpdateNotificationPreferencesCommand(
            user_id=bob, changes={"new_follower": {"in_app": False, "email": False, "push": False}}
        )
    )
    assert await world.notify(bob, draft(ada)) == []
    assert world.stored() == []
    assert world.queue.jobs == []


async def test_nobody_is_told_of_their_own_doing(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    assert await world.notify(ada, draft(ada)) == []
    assert world.stored() == []
    assert world.queue.jobs == []
    uow = world.uow()
    async with uow:
        stored = await world.factory(uow).create(draft(ada), [ada, bob, bob, ada])
        await uow.commit()
    assert [n.recipient_id for n in stored] == [bob]
    assert [n.recipient_id for n in world.stored()] == [bob]


async def test_the_same_source_twice_notifies_once_and_schedules_once(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    [notification] = await world.notify(bob, draft(ada, source="event-42"))
    assert await world.notify(bob, draft(ada, source="event-42")) == []
    assert [n.id for n in world.stored()] == [notification.id]
    assert sorted(world.delivery_pairs(), key=str) == sorted(
        [(notification.id, channel) for channel in notification.channels], key=str
    )
    assert len(await world.notify(bob, draft(ada, source="event-43"))) == 1


async def test_one_delivery_job_per_channel_with_a_round_tripping_payload(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    every_channel = {channel.value: True for channel in Channel}
    await world.update_preferences()(
        UpdateNotificationPreferencesCommand(user_id=bob, changes={"new_comment": every_channel})
    )
    [notification] = await world.notify(bob, draft(ada, kind=NotificationKind.NEW_COMMENT))
    assert world.queue.tasks() == [DELIVER_NOTIFICATION] * 4
    payloads = world.queue.of(DELIVER_NOTIFICATION)
    assert {p["channel"] for p in payloads} == {"in_app", "email", "sms", "push"}
    for payload in payloads:
        command = DeliverNotificationCommand.from_payload(payload)
        assert command.notification_id == notification.id
        assert command.as_payload() == payload


async def test_deliveries_are_enqueued_once_the_notification_is_committed(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    seen: list[UUID] = []

    def visible(task: str, payload: Mapping[str, str]) -> None:
        assert task == DELIVER_NOTIFICATION
        notification_id = UUID(payload["notification_id"])
        rows: dict[UUID, Notification] = world.database.table(NOTIFICATIONS)
        assert notification_id in rows, "a delivery job was enqueued before its notification"
        seen.append(notification_id)

    world.queue.check = visible
    [notification] = await world.notify(bob, draft(ada))
    assert seen == [notification.id] * 3


async def test_nothing_is_enqueued_until_the_outer_transaction_commits(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    uow = world.uow()
    notify = world.notify_user(uow)
    async with uow:  # as HandleEvent does: the handler joins the transaction that records it
        [notification] = await notify(NotifyUserCommand(recipient=bob, draft=draft(ada)))
        assert world.queue.jobs == [], "enqueued before the outer transaction committed"
        await uow.commit()
        assert {pair[0] for pair in world.delivery_pairs()} == {notification.id}
    assert len(world.queue.jobs) == 3


async def test_a_rolled_back_notification_is_never_delivered(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    uow = world.uow()
    notify = world.notify_user(uow)

    async def notify_then_fail() -> None:
        async with uow:
            await notify(NotifyUserCommand(recipient=bob, draft=draft(ada)))
            raise RuntimeError("the handler failed after notifying")

    with pytest.raises(RuntimeError, match="after notifying"):
        await notify_then_fail()
    assert world.stored() == []
    assert world.queue.jobs == []
    async with uow:  # left without committing
        await notify(NotifyUserCommand(recipient=bob, draft=draft(ada)))
    assert world.stored() == []
    assert world.queue.jobs == []
