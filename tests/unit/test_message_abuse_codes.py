"""Texted codes and verification mail cannot be turned into a weapon: limits per account and
client, a global budget, allowed countries, and resends per account.

On the in-memory adapters, with the notification and identity worlds of the other tests.
"""

import logging
from datetime import timedelta

import pytest

from application.common.errors import (
    DependencyUnavailableError,
    InvalidInputError,
    TooManyRequestsError,
)
from application.notifications.send_templated_sms import SEND_TEMPLATED_SMS
from application.notifications.set_phone_number import (
    PhoneCodePolicy,
    SetPhoneNumberCommand,
    calling_codes,
)
from application.users.resend_verification import ResendVerificationCommand
from domain.users.values import UserId
from tests.support.notification_drafts import hourly
from tests.support.notification_fakes import UnavailableLimiter
from tests.support.notification_world import APP_NAME, NotificationWorld
from tests.support.users import UsersWorld


@pytest.fixture
def world() -> NotificationWorld:
    return NotificationWorld()


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
