"""Setting, verifying and removing the phone number on in-memory adapters: the texted code,
its limits, and the notice to the account's address."""

from collections.abc import Mapping
from datetime import timedelta

import pytest

from adapters.memory.notifications.phone_verifications import PHONE_NUMBERS
from application.common.errors import (
    DependencyUnavailableError,
    NotFoundError,
    TooManyRequestsError,
)
from application.notifications.get_phone_number import GetPhoneNumber
from application.notifications.ports import SmsMessage
from application.notifications.remove_phone_number import RemovePhoneNumber
from application.notifications.send_templated_email import SEND_TEMPLATED_EMAIL
from application.notifications.send_templated_sms import (
    SEND_TEMPLATED_SMS,
    SendTemplatedSms,
    SendTemplatedSmsCommand,
)
from application.notifications.set_phone_number import PhoneNumberState, SetPhoneNumberCommand
from application.notifications.verify_phone_number import VerifyPhoneNumberCommand
from domain.notifications.phone import PhoneCodeError, PhoneNumber, PhoneVerification
from domain.shared.errors import DomainError
from domain.users.values import UserId
from tests.support.notification_fakes import UnavailableLimiter
from tests.support.notification_world import APP_NAME, CLIENT_IP, PHONE, NotificationWorld


@pytest.fixture
def world() -> NotificationWorld:
    return NotificationWorld()


async def test_setting_a_number_texts_a_code_after_the_commit(world: NotificationWorld) -> None:
    bob = await world.user("bob")

    def saved_first(task: str, payload: Mapping[str, str]) -> None:
        rows: dict[UserId, PhoneVerification] = world.database.table(PHONE_NUMBERS)
        assert bob in rows, "the code was sent before the number was stored"

    world.queue.check = saved_first
    state = await world.set_phone_number()(
        SetPhoneNumberCommand(user_id=bob, phone="+1 (415) 555-0100", client_ip=CLIENT_IP)
    )
    assert state == PhoneNumberState(number="+1********00", verified=False)
    [payload] = world.queue.take(SEND_TEMPLATED_SMS)
    assert world.queue.jobs == []
    command = SendTemplatedSmsCommand.from_payload(payload)
    assert command == SendTemplatedSmsCommand(
        to=PHONE,
        template="sms/phone_code",
        context={"code": "000001", "app_name": APP_NAME, "minutes": "10"},
    )
    await SendTemplatedSms(world.renderer, world.sms)(command)
    assert list(world.sms.sent) == [
        SmsMessage(
            to=PHONE,
            body=(
                "000001 is your Portico verification code. It expires in 10 minutes. "
                "Never share it."
            ),
        )
    ]
    stored = await world.phones.get(bob)
    assert stored is not None
    assert stored.code_hash == world.secrets.fingerprint("000001")  # only the hash is kept
    assert await GetPhoneNumber(world.phones)(bob) == state


async def test_codes_per_user_are_limited(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    for _ in range(3):
        await world.set_phone_number()(
            SetPhoneNumberCommand(user_id=bob, phone=PHONE, client_ip=CLIENT_IP)
        )
    codes = [p["ctx.code"] for p in world.queue.take(SEND_TEMPLATED_SMS)]
    with pytest.raises(TooManyRequestsError) as caught:
        await world.set_phone_number()(
            SetPhoneNumberCommand(user_id=bob, phone=PHONE, client_ip=CLIENT_IP)
        )
    assert caught.value.retry_after_seconds > 0
    assert world.queue.jobs == []
    stored = await world.phones.get(bob)
    assert stored is not None
    assert stored.code_hash == world.secrets.fingerprint(codes[-1])  # the last code still holds


async def test_no_code_is_sent_while_the_limiter_is_down(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    world.limiter = UnavailableLimiter()
    with pytest.raises(DependencyUnavailableError) as caught:
        await world.set_phone_number()(
            SetPhoneNumberCommand(user_id=bob, phone=PHONE, client_ip=CLIENT_IP)
        )
    assert caught.value.field == "rate_limit"
    assert world.queue.jobs == []
    assert await world.phones.get(bob) is None


async def test_a_code_the_queue_refuses_is_a_503_not_a_silent_success(
    world: NotificationWorld,
) -> None:
    bob = await world.user("bob")

    def refuse(task: str, payload: Mapping[str, str]) -> None:
        raise ConnectionError("redis is down")

    world.queue.check = refuse
    with pytest.raises(DependencyUnavailableError) as caught:
        await world.set_phone_number()(
            SetPhoneNumberCommand(user_id=bob, phone=PHONE, client_ip=CLIENT_IP)
        )
    assert caught.value.field == "phone"
    stored = await world.phones.get(bob)
    assert stored is not None
    assert not stored.is_verified


async def test_the_same_verified_number_again_changes_nothing(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    await world.verified_phone(bob)
    world.limiter = UnavailableLimiter()  # not even consulted
    state = await world.set_phone_number()(
        SetPhoneNumberCommand(user_id=bob, phone="+1 415 555 0100", client_ip=CLIENT_IP)
    )
    assert state == PhoneNumberState(number="+1********00", verified=True)
    assert world.queue.jobs == []
    stored = await world.phones.get(bob)
    assert stored is not None
    assert stored.is_verified


async def test_a_new_number_replaces_the_verified_one(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    await world.verified_phone(bob)
    state = await world.set_phone_number()(
        SetPhoneNumberCommand(user_id=bob, phone="+33612345678", client_ip=CLIENT_IP)
    )
    assert state == PhoneNumberState(number="+3********78", verified=False)
    stored = await world.phones.get(bob)
    assert stored is not None
    assert (stored.number, stored.is_verified) == (PhoneNumber("+33612345678"), False)
    assert [p["to"] for p in world.queue.take(SEND_TEMPLATED_SMS)] == ["+33612345678"]


async def test_a_malformed_number_is_refused_before_anything_happens(
    world: NotificationWorld,
) -> None:
    bob = await world.user("bob")
    with pytest.raises(DomainError) as caught:
        await world.set_phone_number()(
            SetPhoneNumberCommand(user_id=bob, phone="415 555 0100", client_ip=CLIENT_IP)
        )
    assert caught.value.field == "phone"
    assert world.queue.jobs == []
    assert await world.phones.get(bob) is None


async def set_and_read_code(world: NotificationWorld, user: UserId, phone: str = PHONE) -> str:
    await world.set_phone_number()(
        SetPhoneNumberCommand(user_id=user, phone=phone, client_ip=CLIENT_IP)
    )
    [payload] = world.queue.take(SEND_TEMPLATED_SMS)
    return payload["ctx.code"]


async def test_the_texted_code_verifies_the_number(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    code = await set_and_read_code(world, bob)
    state = await world.verify_phone_number()(
        VerifyPhoneNumberCommand(user_id=bob, code=f" {code} ")
    )
    assert state == PhoneNumberState(number="+1********00", verified=True)
    stored = await world.phones.get(bob)
    assert stored is not None
    assert (stored.is_verified, stored.verified_at) == (True, world.clock.now())
    assert await GetPhoneNumber(world.phones)(bob) == state


async def test_a_newly_verified_number_is_told_to_the_accounts_address(
    world: NotificationWorld,
) -> None:
    bob = await world.user("bob")
    code = await set_and_read_code(world, bob)
    await world.verify_phone_number()(VerifyPhoneNumberCommand(user_id=bob, code=code))
    [notice] = world.queue.take(SEND_TEMPLATED_EMAIL)
    owner = await world.users.get(bob)
    assert owner is not None
    assert (notice["to"], notice["template"]) == (str(owner.email), "security_phone_changed")
    assert (notice["security"], notice["ctx.phone_ending"]) == ("true", "00")
    await world.verify_phone_number()(VerifyPhoneNumberCommand(user_id=bob, code=code))
    assert world.queue.take(SEND_TEMPLATED_EMAIL) == []


async def test_a_wrong_code_is_counted_even_though_it_fails(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    code = await set_and_read_code(world, bob)
    with pytest.raises(PhoneCodeError) as caught:
        await world.verify_phone_number()(VerifyPhoneNumberCommand(user_id=bob, code="999999"))
    assert caught.value.field == "code"
    stored = await world.phones.get(bob)
    assert stored is not None
    assert (stored.attempts_left, stored.is_verified) == (4, False)
    for _ in range(4):
        with pytest.raises(PhoneCodeError):
            await world.verify_phone_number()(VerifyPhoneNumberCommand(user_id=bob, code="999999"))
    with pytest.raises(PhoneCodeError, match="request a new one"):
        await world.verify_phone_number()(VerifyPhoneNumberCommand(user_id=bob, code=code))
    fresh = await set_and_read_code(world, bob)  # a resend resets the attempts
    stored = await world.phones.get(bob)
    assert stored is not None
    assert stored.attempts_left == 5
    await world.verify_phone_number()(VerifyPhoneNumberCommand(user_id=bob, code=fresh))


async def test_an_expired_code_needs_a_new_one(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    code = await set_and_read_code(world, bob)
    world.clock.advance(timedelta(minutes=10))
    with pytest.raises(PhoneCodeError, match="expired"):
        await world.verify_phone_number()(VerifyPhoneNumberCommand(user_id=bob, code=code))


async def test_verifying_without_a_number_is_not_found(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    with pytest.raises(NotFoundError) as caught:
        await world.verify_phone_number()(VerifyPhoneNumberCommand(user_id=bob, code="000001"))
    assert caught.value.field == "phone"


async def test_removing_the_number_forgets_it(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    await world.verified_phone(bob)
    remove = RemovePhoneNumber(world.uow(), world.phones)
    assert await remove(bob) is True
    assert await remove(bob) is False
    assert await GetPhoneNumber(world.phones)(bob) is None
