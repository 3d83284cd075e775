"""A stolen access token cannot take the account for good, on in-memory adapters.

Each test replays one step of the takeover the security review reproduced, and checks the
rule that now stops it: step-up for email and password changes, the owner told at the
old address, links bound to the address they were mailed to and voided by account
changes, and only refresh minting access tokens.
"""

from datetime import timedelta

import pytest

from application.common.errors import TooManyRequestsError
from application.common.identity import Identity
from application.users.confirm_password_reset import ConfirmPasswordResetCommand
from application.users.errors import EmailTakenError, OneTimeTokenNotFoundError
from application.users.log_in import LogInCommand
from application.users.log_out_all import LogOutAllCommand
from application.users.register_user import RegisterUserCommand
from application.users.request_password_reset import RequestPasswordResetCommand
from application.users.restore_email import RestoreEmailCommand
from application.users.step_up import CURRENT_PASSWORD, StepUpRequiredError
from application.users.update_user import UpdateUserCommand
from application.users.verify_email import VerifyEmailCommand
from domain.shared.errors import DomainError
from domain.users.one_time_token import TokenPurpose
from domain.users.values import Email
from tests.support.users import UsersWorld

STOLEN = "stolen-access-token"


@pytest.fixture
async def world() -> UsersWorld:
    return UsersWorld()


async def signed_in(world: UsersWorld, name: str = "ada") -> Identity:
    return world.identity_of(await world.register(name))


async def change(world: UsersWorld, actor: Identity, **fields: str) -> None:
    await world.update_user()(UpdateUserCommand(actor=actor, access_token=STOLEN, **fields))


async def test_an_old_sign_in_cannot_change_the_email_or_password_without_the_password(
    world: UsersWorld,
) -> None:
    me = await signed_in(world)
    world.clock.advance(timedelta(minutes=11))
    for fields in ({"email": "mallory@evil.test"}, {"password": "taken-over-1"}):
        with pytest.raises(StepUpRequiredError) as refused:
            await change(world, me, **fields)
        assert refused.value.field == CURRENT_PASSWORD
    with pytest.raises(StepUpRequiredError, match="incorrect"):
        await change(world, me, email="mallory@evil.test", current_password="guess-1234")
    user = await world.users.get_by_username("ada")
    assert user is not None
    assert str(user.email) == "ada@test.com"
    await change(world, me, bio="no proof needed for a bio")
    await change(world, me, email="ada@new.test", current_password="password123")
    moved = await world.users.get_by_username("ada")
    assert moved is not None
    assert str(moved.email) == "ada@new.test"


@pytest.mark.parametrize("fields", [{"bio": "a bio"}, {"password": "a-new-password"}])
async def test_a_blank_current_password_is_refused_whatever_the_change(
    world: UsersWorld, fields: dict[str, str]
) -> None:
    me = await signed_in(world)
    with pytest.raises(DomainError) as refused:
        await change(world, me, current_password="", **fields)
    assert (refused.value.field, refused.value.message) == (CURRENT_PASSWORD, "can't be blank")


async def test_a_fresh_sign_in_is_its_own_proof(world: UsersWorld) -> None:
    me = await signed_in(world)
    world.clock.advance(timedelta(minutes=9))
    await change(world, me, password="a-new-password")


async def test_changing_the_email_to_its_own_value_needs_no_proof(world: UsersWorld) -> None:
    me = await signed_in(world)
    world.clock.advance(timedelta(hours=1))
    await change(world, me, email="ADA@test.com ", username="ada2")


async def test_guessing_the_current_password_is_counted_per_account(world: UsersWorld) -> None:
    me = await signed_in(world)
    world.clock.advance(timedelta(hours=1))
    for _ in range(10):
        with pytest.raises(StepUpRequiredError):
            await change(world, me, password="taken-over-1", current_password="wrong-guess")
    with pytest.raises(TooManyRequestsError):
        await change(world, me, password="taken-over-1", current_password="password123")


async def test_an_email_change_mails_the_old_address_a_restore_link_built_at_commit(
    world: UsersWorld,
) -> None:
    me = await signed_in(world)
    await change(world, me, email="mallory@evil.test", password="taken-over-1")
    await world.queue.drain()
    notices = [message for message in world.mailer.sent if message.to == "ada@test.com"]
    subjects = sorted(message.subject for message in notices)
    assert subjects == [
        "Confirm your email address",
        "The email address of your account was changed",
        "The password of your account was changed",
    ]
    assert any("m***@evil.test" in message.text for message in notices)
    assert all("mallory@evil.test" not in message.text for message in notices)


async def test_the_restore_link_takes_the_address_back_and_signs_everyone_out(
    world: UsersWorld,
) -> None:
    me = await signed_in(world)
    await change(world, me, email="mallory@evil.test", password="taken-over-1")
    await world.queue.drain()
    notice = next(
        message
        for message in world.mailer.sent
        if message.to == "ada@test.com" and "restore-email" in message.text
    )
    token = notice.text.split("?token=", 1)[1].split()[0]
    await world.restore_email()(RestoreEmailCommand(token=token, password="mine-again-1"))
    user = await world.users.get_by_username("ada")
    assert user is not None
    assert user.email == Email("ada@test.com")
    assert user.email_verified_at is not None
    assert all(
        not session.is_active(world.clock.now())
        for session in await world.sessions.list_for_user(user.id)
    )
    await world.log_in()(LogInCommand(email="ada@test.com", password="mine-again-1"))
    with pytest.raises(OneTimeTokenNotFoundError):
        await world.restore_email()(RestoreEmailCommand(token=token, password="again-1234"))


async def test_a_restore_waits_while_another_account_holds_the_address(
    world: UsersWorld,
) -> None:
    me = await signed_in(world)
    await change(world, me, email="ada@new.test")
    await world.queue.drain()
    notice = next(m for m in world.mailer.sent if "restore-email" in m.text)
    token = notice.text.split("?token=", 1)[1].split()[0]
    await world.register_user()(
        RegisterUserCommand(username="squatter", email="ada@test.com", password="password123")
    )
    with pytest.raises(EmailTakenError):
        await world.restore_email()(RestoreEmailCommand(token=token, password="mine-again-1"))


async def test_a_reset_link_dies_with_an_email_change(world: UsersWorld) -> None:
    me = await signed_in(world)
    await world.request_password_reset()(RequestPasswordResetCommand(email="ada@test.com"))
    await world.queue.drain()
    reset = await world.mailed_token("ada@test.com")
    await change(world, me, email="ada@new.test")
    with pytest.raises(OneTimeTokenNotFoundError):
        await world.confirm_password_reset()(
            ConfirmPasswordResetCommand(token=reset, password="attacker-123")
        )


async def test_a_verification_link_proves_only_the_address_it_was_mailed_to(
    world: UsersWorld,
) -> None:
    mallory = await signed_in(world, "mallory")
    await world.queue.drain()
    mailed_to_mallory = await world.mailed_token("mallory@test.com")
    await change(world, mallory, email="ceo@victim.test")
    with pytest.raises(OneTimeTokenNotFoundError):
        await world.verify_email()(VerifyEmailCommand(token=mailed_to_mallory))
    user = await world.users.get_by_username("mallory")
    assert user is not None
    assert user.email_verified_at is None


async def test_a_reset_verifies_only_the_address_it_was_mailed_to(world: UsersWorld) -> None:
    await signed_in(world)
    await world.request_password_reset()(RequestPasswordResetCommand(email="ada@test.com"))
    reset = await world.mailed_token("ada@test.com")
    await world.confirm_password_reset()(
        ConfirmPasswordResetCommand(token=reset, password="new-password-1")
    )
    user = await world.users.get_by_username("ada")
    assert user is not None
    assert user.email_verified_at is not None
    await world.queue.drain()
    assert world.mailer.last_to("ada@test.com").subject == "Your password was reset"


async def test_a_reset_voids_the_outstanding_verification_links(world: UsersWorld) -> None:
    await signed_in(world)
    verification = await world.mailed_token("ada@test.com")
    await world.request_password_reset()(RequestPasswordResetCommand(email="ada@test.com"))
    reset = await world.mailed_token("ada@test.com")
    await world.confirm_password_reset()(
        ConfirmPasswordResetCommand(token=reset, password="new-password-1")
    )
    with pytest.raises(OneTimeTokenNotFoundError):
        await world.verify_email()(VerifyEmailCommand(token=verification))


async def test_signing_out_everywhere_voids_the_outstanding_links(world: UsersWorld) -> None:
    me = await signed_in(world)
    verification = await world.mailed_token("ada@test.com")
    await world.request_password_reset()(RequestPasswordResetCommand(email="ada@test.com"))
    reset = await world.mailed_token("ada@test.com")
    await world.log_out_all()(LogOutAllCommand(actor=me))
    with pytest.raises(OneTimeTokenNotFoundError):
        await world.verify_email()(VerifyEmailCommand(token=verification))
    with pytest.raises(OneTimeTokenNotFoundError):
        await world.confirm_password_reset()(
            ConfirmPasswordResetCommand(token=reset, password="new-password-1")
        )


async def test_reset_and_restore_links_count_as_security_mail_and_verification_does_not(
    world: UsersWorld,
) -> None:
    await signed_in(world)
    user = await world.users.get_by_username("ada")
    assert user is not None
    mailer = world.token_mailer()
    security = {purpose: (await mailer.issue(user, purpose)).security for purpose in TokenPurpose}
    assert security == {
        TokenPurpose.VERIFY_EMAIL: False,
        TokenPurpose.RESET_PASSWORD: True,
        TokenPurpose.RESTORE_EMAIL: True,
    }
