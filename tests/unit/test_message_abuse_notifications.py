"""Notifications cannot be turned into a weapon: a follow loop is told once per window, mail
goes only to verified addresses, and payloads name other users by username.

On the in-memory adapters, with the notification world of the other tests.
"""

import re
from datetime import timedelta
from uuid import UUID

import msgspec
import pytest

from adapters.memory.system import ManualClock
from application.events.received_event import ReceivedEvent
from application.notifications.deliver_notification import (
    DELIVER_NOTIFICATION,
    DeliverNotificationCommand,
)
from application.notifications.ports import DeliveryStatus
from application.notifications.repeat_policy import RepeatPolicy
from domain.notifications.notification import Channel, Notification, NotificationKind, Subject
from domain.users.events import UserFollowed
from domain.users.values import UserId
from entrypoints.http.schemas.notifications import Notification as NotificationSchema
from entrypoints.http.schemas.notifications import NotificationSubject
from tests.support.notification_drafts import draft, event_of
from tests.support.notification_world import NotificationWorld


@pytest.fixture
def world() -> NotificationWorld:
    return NotificationWorld()


UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# --- follow notifications: one per follower and followee per window -----------------------


def followed(world: NotificationWorld, follower: UserId, followee: UserId) -> ReceivedEvent:
    return event_of(
        UserFollowed(
            aggregate_id=str(follower), occurred_at=world.clock.now(), followee_id=str(followee)
        ),
        world.ids.new_id(),
    )


async def test_a_follow_loop_tells_the_followee_once_per_window(world: NotificationWorld) -> None:
    world.repeats = RepeatPolicy(quiet_periods={NotificationKind.NEW_FOLLOWER: timedelta(hours=1)})
    ada, bob, cy = await world.user("ada"), await world.user("bob"), await world.user("cy")
    for _ in range(20):
        assert await world.handle(followed(world, ada, bob)) == [True]
        world.clock.advance(timedelta(seconds=30))
    assert len(world.stored_for(bob)) == 1
    assert len(world.queue.of(DELIVER_NOTIFICATION)) == 3
    await world.handle(followed(world, cy, bob))
    assert len(world.stored_for(bob)) == 2, "another follower is news"
    await world.handle(followed(world, bob, ada))
    assert len(world.stored_for(ada)) == 1, "the other direction is news"
    world.clock.advance(timedelta(minutes=51))
    await world.handle(followed(world, ada, bob))
    assert len(world.stored_for(bob)) == 3, "the window is over"


async def test_without_a_quiet_period_every_follow_is_told(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    for _ in range(3):
        await world.handle(followed(world, ada, bob))
    assert len(world.stored_for(bob)) == 3


async def test_other_kinds_by_the_same_actor_are_not_held_back(world: NotificationWorld) -> None:
    world.repeats = RepeatPolicy(quiet_periods={NotificationKind.NEW_FOLLOWER: timedelta(days=1)})
    ada, bob = await world.user("ada"), await world.user("bob")
    await world.notify(bob, draft(ada, source="follow"))
    for number in range(2):
        stored = await world.notify(
            bob, draft(ada, kind=NotificationKind.NEW_COMMENT, source=f"comment-{number}")
        )
        assert len(stored) == 1


# --- notification mail only to verified addresses -----------------------------------------


async def test_notification_email_skips_an_unverified_address(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    notification = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.EMAIL)
    assert await world.deliver()(command) is DeliveryStatus.SKIPPED
    record = await world.deliveries.get(notification.id, Channel.EMAIL)
    assert record is not None
    assert record.detail == "email not verified"
    assert world.mailer.sent == []
    assert await world.deliver()(command) is None, "a skipped delivery is not retried"


async def test_security_notification_email_also_needs_a_verified_address(
    world: NotificationWorld,
) -> None:
    bob = await world.user("bob")
    login = await world.notified(bob, await world.user("ada"), NotificationKind.NEW_LOGIN)
    command = DeliverNotificationCommand(notification_id=login.id, channel=Channel.EMAIL)
    assert await world.deliver()(command) is DeliveryStatus.SKIPPED
    assert world.mailer.sent == []


# --- payloads name other users by username ------------------------------------------------


async def test_a_follow_notification_names_the_follower_by_username_only(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob", verified=True)
    await world.subscription(bob, "https://push.example.test/bob")
    await world.handle(followed(world, ada, bob))
    [notification] = world.stored_for(bob)
    document = msgspec.to_builtins(NotificationSchema.of(notification))
    assert document["subject"] == {"type": "user", "id": "ada"}
    assert document["actor"] == {"username": "ada"}
    await world.run_deliveries()
    [(_, pushed)] = world.push.sent
    live = [str(document), pushed.payload.decode(), world.mailer.sent[0].text]
    for text in live:
        assert str(ada.value) not in text
        assert not [found for found in UUID_TEXT.findall(text) if found != str(notification.id)]


def test_a_stored_follow_that_named_the_follower_by_id_shows_the_username() -> None:
    legacy = Notification(
        id=UUID(int=1),
        recipient_id=UserId(UUID(int=2)),
        kind=NotificationKind.NEW_FOLLOWER,
        actor_id=UserId(UUID(int=3)),
        subject=Subject(type="user", id=str(UUID(int=3))),
        source="event-1",
        channels=frozenset({Channel.IN_APP}),
        created_at=ManualClock().now(),
        data={"actor_username": "ada"},
    )
    assert NotificationSchema.of(legacy).subject == NotificationSubject(type="user", id="ada")
