"""Outgoing messages cannot be turned into a weapon: per-recipient caps on notifications and
on the templated email job.

On the in-memory adapters, with the notification world of the other tests.
"""

import logging
from datetime import timedelta

import pytest

from adapters.inprocess.rate_limiter import InProcessRateLimiter
from adapters.memory.mailer import InMemoryMailer
from adapters.memory.system import ManualClock
from adapters.templates.jinja import JinjaTemplateRenderer
from application.notifications.deliver_notification import DeliverNotificationCommand
from application.notifications.ports import DeliveryStatus
from application.notifications.recipient_caps import (
    MessageCaps,
    RecipientCaps,
    masked_recipient,
    normalized_recipient,
)
from application.notifications.send_templated_email import (
    SendTemplatedEmail,
    SendTemplatedEmailCommand,
)
from domain.notifications.notification import Channel, Notification, NotificationKind
from tests.support.notification_drafts import hourly
from tests.support.notification_fakes import UnavailableLimiter
from tests.support.notification_world import NotificationWorld


@pytest.fixture
def world() -> NotificationWorld:
    return NotificationWorld()


def caps(*, email: int = 100, security_email: int = 100, sms: int = 100) -> MessageCaps:
    return MessageCaps(
        email=hourly(email),
        security_email=hourly(security_email),
        sms=hourly(sms),
        security_sms=hourly(100),
    )


# --- per-recipient caps in DeliverNotification ---------------------------------------------


async def deliver(world: NotificationWorld, notification: Notification, channel: Channel) -> object:
    command = DeliverNotificationCommand(notification_id=notification.id, channel=channel)
    return await world.deliver()(command)


async def test_email_over_the_recipients_cap_is_skipped_and_not_retried(
    world: NotificationWorld,
) -> None:
    world.caps = caps(email=2, security_email=3)
    ada, bob = await world.user("ada"), await world.user("bob", verified=True)
    sent = [await deliver(world, await world.notified(bob, ada), Channel.EMAIL) for _ in range(2)]
    assert sent == [DeliveryStatus.SENT] * 2
    third = await world.notified(bob, ada)
    assert await deliver(world, third, Channel.EMAIL) is DeliveryStatus.SKIPPED
    record = await world.deliveries.get(third.id, Channel.EMAIL)
    assert record is not None
    assert record.detail == "over the hourly email cap for this recipient"
    assert len(world.mailer.sent) == 2
    login = await world.notified(bob, ada, NotificationKind.NEW_LOGIN)
    assert await deliver(world, login, Channel.EMAIL) is DeliveryStatus.SENT, (
        "security notices are counted apart, at their own cap"
    )
    world.clock.advance(timedelta(hours=1))
    later = await world.notified(bob, ada)
    assert await deliver(world, later, Channel.EMAIL) is DeliveryStatus.SENT


async def test_the_email_cap_is_per_address_whatever_its_case(world: NotificationWorld) -> None:
    assert normalized_recipient(Channel.EMAIL, " Bob@Test.com ") == "bob@test.com"
    assert normalized_recipient(Channel.SMS, "+1 (415) 555-0100") == "+14155550100"
    assert masked_recipient(Channel.EMAIL, "Bob@Test.com") == "b***@test.com"
    assert masked_recipient(Channel.SMS, "+14155550100") == "+1********00"
    limiter = InProcessRateLimiter(world.clock)
    recipient_caps = RecipientCaps(limiter, caps(email=1))
    assert await recipient_caps.admit(Channel.EMAIL, "bob@test.com", security=False)
    assert not await recipient_caps.admit(Channel.EMAIL, "BOB@test.com", security=False)
    assert await recipient_caps.admit(Channel.EMAIL, "cy@test.com", security=False)
    with pytest.raises(ValueError, match="push"):
        await recipient_caps.admit(Channel.PUSH, "x", security=False)


async def test_sms_over_the_recipients_cap_is_skipped(world: NotificationWorld) -> None:
    world.caps = caps(sms=1)
    ada, bob = await world.user("ada"), await world.user("bob")
    await world.verified_phone(bob)
    first = await world.notified(bob, ada, NotificationKind.NEW_COMMENT)
    second = await world.notified(bob, ada, NotificationKind.NEW_COMMENT)
    assert await deliver(world, first, Channel.SMS) is DeliveryStatus.SENT
    assert await deliver(world, second, Channel.SMS) is DeliveryStatus.SKIPPED
    record = await world.deliveries.get(second.id, Channel.SMS)
    assert record is not None
    assert record.detail == "over the hourly sms cap for this recipient"
    assert len(world.sms.sent) == 1


async def test_a_failed_send_gives_its_count_back(world: NotificationWorld) -> None:
    world.caps = caps(email=1)
    ada, bob = await world.user("ada"), await world.user("bob", verified=True)
    notification = await world.notified(bob, ada)
    world.mailer.down = True
    with pytest.raises(ConnectionError):
        await deliver(world, notification, Channel.EMAIL)
    world.mailer.down = False
    world.clock.advance(timedelta(minutes=3))
    assert await deliver(world, notification, Channel.EMAIL) is DeliveryStatus.SENT


async def test_with_the_limiter_down_email_fails_open_and_sms_fails_for_a_retry(
    world: NotificationWorld, caplog: pytest.LogCaptureFixture
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob", verified=True)
    await world.verified_phone(bob)
    notification = await world.notified(bob, ada, NotificationKind.NEW_COMMENT)
    world.limiter = UnavailableLimiter()
    with caplog.at_level(logging.WARNING):
        assert await deliver(world, notification, Channel.EMAIL) is DeliveryStatus.SENT
    assert "sending the email uncapped" in caplog.text
    with pytest.raises(Exception, match="connection refused"):
        await deliver(world, notification, Channel.SMS)
    record = await world.deliveries.get(notification.id, Channel.SMS)
    assert record is not None
    assert record.status is DeliveryStatus.FAILED
    assert list(world.sms.sent) == []


# --- the templated email job (verification and reset links, security notices) -------------


def templated(to: str = "bob@test.com", *, security: bool = False) -> SendTemplatedEmailCommand:
    return SendTemplatedEmailCommand(
        to=to,
        template="verify_email",
        context={
            "username": "bob",
            "token": "t",
            "link": "https://x/verify?token=t",
            "valid_hours": "48",
        },
        security=security,
    )


def test_the_security_flag_round_trips_through_the_payload() -> None:
    notice = templated(security=True)
    assert notice.as_payload()["security"] == "true"
    assert SendTemplatedEmailCommand.from_payload(notice.as_payload()) == notice
    ordinary = templated()
    assert "security" not in ordinary.as_payload()
    assert SendTemplatedEmailCommand.from_payload(ordinary.as_payload()) == ordinary
    assert (
        SendTemplatedEmailCommand.from_payload(
            {**ordinary.as_payload(), "security": "yes"}
        ).security
        is False
    )


async def test_templated_email_over_its_cap_is_logged_and_not_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock()
    mailer = InMemoryMailer()
    recipient_caps = RecipientCaps(InProcessRateLimiter(clock), caps(email=2, security_email=3))
    send = SendTemplatedEmail(JinjaTemplateRenderer(), mailer, recipient_caps)
    with caplog.at_level(logging.WARNING):
        outcomes = [await send(templated()) for _ in range(3)]
    assert outcomes == [True, True, False]
    assert len(mailer.sent) == 2
    capped = [r for r in caplog.records if "over its hourly cap" in r.getMessage()]
    assert len(capped) == 1
    assert "b***@test.com" in capped[0].getMessage()
    assert "bob@test.com" not in caplog.text
    notices = [await send(templated(security=True)) for _ in range(4)]
    assert notices == [True, True, True, False], "security notices: their own, higher cap"
    assert await send(templated("cy@test.com"))
