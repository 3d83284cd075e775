"""Outgoing messages cannot be turned into a weapon: caps, dedup, limits and budgets.

On the in-memory adapters, with the notification and identity worlds of the other tests.
"""

import logging
import re
from datetime import timedelta
from uuid import UUID

import pytest

from adapters.inprocess.rate_limiter import InProcessRateLimiter
from adapters.memory.mailer import InMemoryMailer
from adapters.memory.system import ManualClock
from adapters.templates.jinja import JinjaTemplateRenderer
from application.common.errors import (
    DependencyUnavailableError,
    InvalidInputError,
    TooManyRequestsError,
)
from application.common.ports.rate_limits import RateLimit
from application.events.received_event import ReceivedEvent
from application.notifications.deliver_notification import (
    DELIVER_NOTIFICATION,
    DeliverNotificationCommand,
)
from application.notifications.ports import DeliveryStatus
from application.notifications.recipient_caps import (
    MessageCaps,
    RecipientCaps,
    masked_recipient,
    normalized_recipient,
)
from application.notifications.repeat_policy import RepeatPolicy
from application.notifications.send_templated_email import (
    SendTemplatedEmail,
    SendTemplatedEmailCommand,
)
from application.notifications.send_templated_sms import SEND_TEMPLATED_SMS
from application.notifications.set_phone_number import (
    PhoneCodePolicy,
    SetPhoneNumberCommand,
    calling_codes,
)
from application.notifications.views import notification_document
from application.users.resend_verification import ResendVerificationCommand
from domain.notifications.notification import Channel, Notification, NotificationKind, Subject
from domain.users.events import UserFollowed
from domain.users.values import UserId
from tests.support.users import UsersWorld
from tests.unit.test_notification_use_cases import (
    APP_NAME,
    NotificationWorld,
    UnavailableLimiter,
    draft,
    event_of,
)

HOUR = 3600
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def hourly(limit: int) -> RateLimit:
    return RateLimit(limit=limit, window_seconds=HOUR)


def caps(*, email: int = 100, security_email: int = 100, sms: int = 100) -> MessageCaps:
    return MessageCaps(
        email=hourly(email),
        security_email=hourly(security_email),
        sms=hourly(sms),
        security_sms=hourly(100),
    )


@pytest.fixture
def world() -> NotificationWorld:
    return NotificationWorld()


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


# --- SMS codes: per client, per account, a global budget, allowed countries ----------------


def phone_policy(**changes: object) -> PhoneCodePolicy:
    values: dict[str, object] = {
        "ttl": timedelta(minutes=10),
        "sends": hourly(3),
        "per_client": hourly(5),
        "budget": hourly(8),
        "calling_codes": frozenset(),
        "app_name": APP_NAME,
        **changes,
    }
    return PhoneCodePolicy(**values)  # type: ignore[arg-type]


def number(index: int) -> str:
    return f"+1415555{index:04d}"


async def ask(world: NotificationWorld, user: UserId, phone: str, ip: str = "198.51.100.1") -> None:
    await world.set_phone_number()(SetPhoneNumberCommand(user_id=user, phone=phone, client_ip=ip))


async def test_an_account_looping_over_numbers_is_stopped_by_its_own_limit(
    world: NotificationWorld,
) -> None:
    world.phone_policy = phone_policy()
    bob = await world.user("bob")
    for index in range(3):
        await ask(world, bob, number(index))
    for index in range(3, 100):
        with pytest.raises(TooManyRequestsError):
            await ask(world, bob, number(index))
    assert len(world.queue.of(SEND_TEMPLATED_SMS)) == 3


async def test_one_client_using_many_accounts_is_stopped_by_the_per_client_limit(
    world: NotificationWorld,
) -> None:
    world.phone_policy = phone_policy()
    accounts = [await world.user(f"user{index}") for index in range(4)]
    sent = 0
    for index, account in enumerate(accounts):
        for attempt in range(2):
            try:
                await ask(world, account, number(index * 10 + attempt))
            except TooManyRequestsError:
                continue
            sent += 1
    assert sent == 5
    await ask(world, accounts[3], number(99), ip="198.51.100.2")  # another client may
    assert len(world.queue.of(SEND_TEMPLATED_SMS)) == 6


async def test_a_spent_budget_is_a_503_with_retry_after_and_one_log_line(
    world: NotificationWorld, caplog: pytest.LogCaptureFixture
) -> None:
    world.phone_policy = phone_policy(sends=hourly(100), per_client=hourly(100), budget=hourly(4))
    users = [await world.user(f"user{index}") for index in range(12)]
    with caplog.at_level(logging.ERROR):
        for index, user in enumerate(users[:4]):
            await ask(world, user, number(index), ip=f"203.0.113.{index}")
        for index, user in enumerate(users[4:], start=4):
            with pytest.raises(DependencyUnavailableError) as caught:
                await ask(world, user, number(index), ip=f"203.0.113.{index}")
            assert caught.value.field == "phone"
            assert caught.value.retry_after_seconds >= 1
    assert len(world.queue.of(SEND_TEMPLATED_SMS)) == 4
    alarms = [r for r in caplog.records if "SMS code budget" in r.getMessage()]
    assert len(alarms) == 1, "one line per budget window, not one per request"
    world.clock.advance(timedelta(hours=1))
    with caplog.at_level(logging.ERROR):
        for index, user in enumerate(users[:4]):
            await ask(world, user, number(50 + index), ip="192.0.2.9")
        with pytest.raises(DependencyUnavailableError):
            await ask(world, users[4], number(54), ip="192.0.2.9")
    alarms = [r for r in caplog.records if "SMS code budget" in r.getMessage()]
    assert len(alarms) == 2, "the next window that runs dry tells the operator again"


async def test_a_request_refused_by_a_later_limit_spends_no_earlier_one(
    world: NotificationWorld,
) -> None:
    """Bob's account allows two codes: were his refused tries counted, the third would be a
    429 for his own limit rather than a 503 for the budget."""
    world.phone_policy = phone_policy(sends=hourly(2), per_client=hourly(100), budget=hourly(1))
    ada, bob = await world.user("ada"), await world.user("bob")
    await ask(world, ada, number(1))
    for _ in range(5):
        with pytest.raises(DependencyUnavailableError):
            await ask(world, bob, number(2))


async def test_a_number_outside_the_allowed_countries_is_refused_naming_the_field(
    world: NotificationWorld,
) -> None:
    world.phone_policy = phone_policy(calling_codes=calling_codes("1, 44"))
    bob = await world.user("bob")
    with pytest.raises(InvalidInputError) as caught:
        await ask(world, bob, "+4915123456789")
    assert caught.value.field == "phone"
    await ask(world, bob, "+447700900123")
    await ask(world, bob, number(7))
    assert len(world.queue.of(SEND_TEMPLATED_SMS)) == 2


def test_calling_codes_parse_and_are_checked() -> None:
    assert calling_codes("") == frozenset()
    assert calling_codes(" 1, +44,49 ,") == {"1", "44", "49"}
    with pytest.raises(ValueError, match="calling codes"):
        phone_policy(calling_codes=frozenset({"044"}))


# --- the verification resend, per account --------------------------------------------------


async def test_verification_resends_are_limited_per_account() -> None:
    identity = UsersWorld()
    registered = await identity.register("mallory")
    actor = identity.identity_of(registered)
    await identity.queue.drain()
    mailed_at_signup = len(identity.mailer.sent)
    for _ in range(3):
        await identity.resend_verification()(ResendVerificationCommand(actor=actor))
    with pytest.raises(TooManyRequestsError) as caught:
        await identity.resend_verification()(ResendVerificationCommand(actor=actor))
    assert caught.value.retry_after_seconds >= 1
    await identity.queue.drain()
    assert len(identity.mailer.sent) == mailed_at_signup + 3
    other = identity.identity_of(await identity.register("trent"))
    await identity.resend_verification()(ResendVerificationCommand(actor=other))


async def test_no_resend_while_the_limiter_is_down() -> None:
    identity = UsersWorld()
    actor = identity.identity_of(await identity.register("mallory"))
    identity.limiter = UnavailableLimiter()
    with pytest.raises(DependencyUnavailableError):
        await identity.resend_verification()(ResendVerificationCommand(actor=actor))


# --- payloads name other users by username ------------------------------------------------


async def test_a_follow_notification_names_the_follower_by_username_only(
    world: NotificationWorld,
) -> None:
    ada, bob = await world.user("ada"), await world.user("bob", verified=True)
    await world.subscription(bob, "https://push.example.test/bob")
    await world.handle(followed(world, ada, bob))
    [notification] = world.stored_for(bob)
    document = notification_document(notification)
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
    assert notification_document(legacy)["subject"] == {"type": "user", "id": "ada"}
