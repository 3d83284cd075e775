"""DeliverNotification on in-memory adapters, channel by channel: the live room, email, SMS
and push, and what each renders."""

import asyncio
import json

import msgspec
import pytest

from application.common.ports.realtime import user_room
from application.notifications.deliver_notification import (
    PUSH_TTL_SECONDS,
    DeliverNotificationCommand,
)
from application.notifications.ports import DeliveryStatus, EmailMessage, SmsMessage
from application.notifications.set_phone_number import SetPhoneNumberCommand
from application.notifications.update_notification_preferences import (
    UpdateNotificationPreferencesCommand,
)
from domain.notifications.notification import Channel, NotificationKind
from entrypoints.http.schemas.notifications import NEW_NOTIFICATION
from entrypoints.http.schemas.notifications import Notification as NotificationSchema
from tests.support.notification_drafts import draft
from tests.support.notification_world import (
    APP_NAME,
    CLIENT_IP,
    PHONE,
    PUBLIC_URL,
    NotificationWorld,
)


@pytest.fixture
def world() -> NotificationWorld:
    return NotificationWorld()


async def test_in_app_publishes_the_document_to_the_recipients_room(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    await world.broadcaster.join(user_room(bob))
    notification = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.IN_APP)
    assert await world.deliver()(command) is DeliveryStatus.SENT
    stream = world.broadcaster.messages()
    message = await asyncio.wait_for(anext(stream), timeout=1)
    await world.broadcaster.close()
    assert [rest async for rest in stream] == []
    assert message.room == f"user:{bob}"
    stored = await world.notifications.get(notification.id)
    assert stored is not None
    assert json.loads(message.payload) == {
        "type": NEW_NOTIFICATION,
        "data": msgspec.to_builtins(NotificationSchema.of(stored)),
    }
    assert json.loads(message.payload)["data"]["actor"] == {"username": "ada"}
    record = await world.deliveries.get(notification.id, Channel.IN_APP)
    assert record is not None
    assert (record.status, record.attempts, record.detail) == (DeliveryStatus.SENT, 1, None)


async def test_email_renders_the_kinds_template_to_the_recipients_address(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob", verified=True)
    notification = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.EMAIL)
    assert await world.deliver()(command) is DeliveryStatus.SENT
    expected = world.renderer.render_email(
        "notification_new_follower",
        {
            "actor_username": "ada",
            "app_name": APP_NAME,
            "recipient_username": "bob",
            "recipient_email": "bob@test.com",
            "url": f"{PUBLIC_URL}/profile/ada",
            "preferences_url": f"{PUBLIC_URL}/settings",
        },
    )
    assert world.mailer.sent == [
        EmailMessage(
            to="bob@test.com", subject=expected.subject, text=expected.text, html=expected.html
        )
    ]
    message = world.mailer.sent[0]
    assert message.subject == "ada started following you on Portico"
    assert "Hello bob" in message.text
    assert f"{PUBLIC_URL}/profile/ada" in message.text


async def test_sms_is_skipped_without_a_verified_phone(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    notification = await world.notified(bob, ada, NotificationKind.PASSWORD_CHANGED)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.SMS)
    assert await world.deliver()(command) is DeliveryStatus.SKIPPED
    record = await world.deliveries.get(notification.id, Channel.SMS)
    assert record is not None
    assert (record.status, record.detail) == (DeliveryStatus.SKIPPED, "no verified phone number")
    other = await world.notified(bob, ada, NotificationKind.PASSWORD_CHANGED)
    await world.set_phone_number()(
        SetPhoneNumberCommand(user_id=bob, phone=PHONE, client_ip=CLIENT_IP)
    )  # unverified
    command = DeliverNotificationCommand(notification_id=other.id, channel=Channel.SMS)
    assert await world.deliver()(command) is DeliveryStatus.SKIPPED
    assert list(world.sms.sent) == []


async def test_sms_goes_to_the_verified_phone(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    await world.verified_phone(bob, "+44 20 7946 0958")
    notification = await world.notified(bob, ada, NotificationKind.PASSWORD_CHANGED)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.SMS)
    assert await world.deliver()(command) is DeliveryStatus.SENT
    assert list(world.sms.sent) == [
        SmsMessage(
            to="+442079460958",
            body=(
                "Portico: your password was changed. Not you? Reset your password. "
                "https://portico.test/settings"
            ),
        )
    ]


async def test_push_without_a_subscription_is_skipped(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    notification = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.PUSH)
    assert await world.deliver()(command) is DeliveryStatus.SKIPPED
    record = await world.deliveries.get(notification.id, Channel.PUSH)
    assert record is not None
    assert record.detail == "no push subscription"
    assert not world.push.sent


async def test_push_goes_to_every_subscription_of_the_recipient(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    laptop = await world.subscription(bob, "https://push.example.test/laptop")
    phone = await world.subscription(bob, "https://push.example.test/phone")
    await world.subscription(ada, "https://push.example.test/ada")
    notification = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.PUSH)
    assert await world.deliver()(command) is DeliveryStatus.SENT
    assert [subscription for subscription, _ in world.push.sent] == [laptop, phone]
    message = world.push.sent[0][1]
    assert (message.ttl_seconds, message.topic) == (PUSH_TTL_SECONDS, "new-follower")
    assert json.loads(message.payload) == {
        "id": str(notification.id),
        "kind": "new_follower",
        "title": "New follower",
        "body": "ada started following you.",
        "url": f"{PUBLIC_URL}/profile/ada",
    }


async def test_a_gone_subscription_is_forgotten(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    gone = await world.subscription(bob, "https://push.example.test/gone")
    alive = await world.subscription(bob, "https://push.example.test/alive")
    world.push.mark_gone(gone.endpoint)
    notification = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.PUSH)
    assert await world.deliver()(command) is DeliveryStatus.SENT
    assert await world.push_subscriptions.for_user(bob) == [alive]
    world.push.mark_gone(alive.endpoint)
    later = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=later.id, channel=Channel.PUSH)
    assert await world.deliver()(command) is DeliveryStatus.SKIPPED
    assert await world.push_subscriptions.for_user(bob) == []


async def test_a_refused_push_does_not_stop_the_others(world: NotificationWorld) -> None:
    ada, bob = await world.user("ada"), await world.user("bob")
    refusing = await world.subscription(bob, "https://push.example.test/refusing")
    taking = await world.subscription(bob, "https://push.example.test/taking")
    world.push.refusing.add(refusing.endpoint)
    notification = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.PUSH)
    assert await world.deliver()(command) is DeliveryStatus.SENT
    assert world.push.attempted == [refusing.endpoint, taking.endpoint]
    assert [subscription for subscription, _ in world.push.sent] == [taking]
    assert len(await world.push_subscriptions.for_user(bob)) == 2  # refused is not gone
    world.push.refusing.add(taking.endpoint)
    later = await world.notified(bob, ada)
    command = DeliverNotificationCommand(notification_id=later.id, channel=Channel.PUSH)
    assert await world.deliver()(command) is DeliveryStatus.SKIPPED


async def test_every_channel_of_every_kind_renders(world: NotificationWorld) -> None:
    """Each kind's templates get the values its handler provides (strict rendering).

    Every kind but password_changed mails: its email is the notice mailed at the change.
    """
    ada, bob = await world.user("ada"), await world.user("bob", verified=True)
    await world.verified_phone(bob)
    await world.subscription(bob, "https://push.example.test/bob")
    every_channel = {channel.value: True for channel in Channel}
    await world.update_preferences()(
        UpdateNotificationPreferencesCommand(
            user_id=bob, changes={kind.value: every_channel for kind in NotificationKind}
        )
    )
    for kind in NotificationKind:
        await world.notify(bob, draft(ada, kind=kind, source=f"all-{kind}"))
    outcomes = await world.run_deliveries()
    assert len(outcomes) == len(NotificationKind) * len(Channel) - 1
    assert {status for _, status in outcomes} == {DeliveryStatus.SENT}
    assert len(world.sms.sent) == len(world.push.sent) == 6
    assert len(world.mailer.sent) == 5
