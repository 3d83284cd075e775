"""Email verification and password reset on in-memory adapters."""

from datetime import timedelta

import pytest
from jinja2 import UndefinedError

from adapters.templates.jinja import JinjaTemplateRenderer
from application.common.errors import (
    AuthenticationRequiredError,
    InvalidCredentialsError,
    TooManyRequestsError,
)
from application.common.identity import Identity
from application.users.confirm_password_reset import ConfirmPasswordResetCommand
from application.users.errors import OneTimeTokenNotFoundError
from application.users.log_in import LogInCommand
from application.users.refresh_session import RefreshSessionCommand
from application.users.request_password_reset import RequestPasswordResetCommand
from application.users.resend_verification import ResendVerificationCommand
from application.users.update_user import UpdateUserCommand
from application.users.verify_email import VerifyEmailCommand
from domain.shared.errors import DomainError
from tests.support.users import UsersWorld


@pytest.fixture
async def world() -> UsersWorld:
    world = UsersWorld()
    await world.register("ada")
    return world


async def test_registration_mails_a_templated_verification_link(world: UsersWorld) -> None:
    await world.queue.drain()
    message = world.mailer.last_to("ada@test.com")
    assert message.subject == "Confirm your email address"
    assert "https://portico.test/verify-email?token=" in message.text
    assert "Hello ada" in message.html
    assert "expires in 48 hours" in message.text


def test_html_bodies_escape_values_and_text_bodies_keep_them() -> None:
    rendered = JinjaTemplateRenderer().render_email(
        "verify_email",
        {
            "username": "<b>x</b>",
            "token": "t&k",
            "link": "https://x.test/?a=1&b=2",
            "valid_hours": "1",
        },
    )
    assert "&lt;b&gt;x&lt;/b&gt;" in rendered.html
    assert "https://x.test/?a=1&amp;b=2" in rendered.html
    assert "<b>x</b>" in rendered.text


def test_a_template_missing_a_value_fails_loudly() -> None:
    with pytest.raises(UndefinedError):
        JinjaTemplateRenderer().render_email("verify_email", {"username": "ada"})


async def test_verifying_marks_the_email_once(world: UsersWorld) -> None:
    token = await world.mailed_token("ada@test.com")
    await world.verify_email()(VerifyEmailCommand(token=token))
    user = await world.users.get_by_username("ada")
    assert user is not None
    assert user.email_verified_at == world.clock.now()
    assert "user.email_verified" in world.event_types()
    with pytest.raises(OneTimeTokenNotFoundError) as caught:
        await world.verify_email()(VerifyEmailCommand(token=token))
    assert caught.value.field == "token"


async def test_an_expired_verification_link_is_refused(world: UsersWorld) -> None:
    token = await world.mailed_token("ada@test.com")
    world.clock.advance(timedelta(hours=49))
    with pytest.raises(OneTimeTokenNotFoundError):
        await world.verify_email()(VerifyEmailCommand(token=token))


async def test_reset_answers_the_same_for_unknown_emails_and_mails_nothing(
    world: UsersWorld,
) -> None:
    await world.queue.drain()
    before = len(world.mailer.sent)
    await world.request_password_reset()(RequestPasswordResetCommand(email="ghost@test.com"))
    await world.queue.drain()
    assert len(world.mailer.sent) == before


async def test_reset_replaces_the_password_and_ends_every_session(world: UsersWorld) -> None:
    session = await world.log_in()(LogInCommand(email="ada@test.com", password="password123"))
    await world.request_password_reset()(RequestPasswordResetCommand(email="ADA@test.com"))
    token = await world.mailed_token("ada@test.com")
    await world.confirm_password_reset()(
        ConfirmPasswordResetCommand(token=token, password="a-brand-new-one")
    )
    assert session.refresh_token is not None
    with pytest.raises(AuthenticationRequiredError):
        await world.refresh_session()(RefreshSessionCommand(refresh_token=session.refresh_token))
    with pytest.raises(InvalidCredentialsError):
        await world.log_in()(LogInCommand(email="ada@test.com", password="password123"))
    await world.log_in()(LogInCommand(email="ada@test.com", password="a-brand-new-one"))
    with pytest.raises(OneTimeTokenNotFoundError):
        await world.confirm_password_reset()(
            ConfirmPasswordResetCommand(token=token, password="yet-another-one")
        )
    assert "user.password_changed" in world.event_types()


async def test_a_weak_new_password_is_refused_before_the_token_is_spent(
    world: UsersWorld,
) -> None:
    await world.request_password_reset()(RequestPasswordResetCommand(email="ada@test.com"))
    token = await world.mailed_token("ada@test.com")
    with pytest.raises(DomainError):
        await world.confirm_password_reset()(
            ConfirmPasswordResetCommand(token=token, password="short")
        )
    await world.confirm_password_reset()(
        ConfirmPasswordResetCommand(token=token, password="long-enough")
    )


async def test_tokens_do_not_cross_purposes(world: UsersWorld) -> None:
    verification = await world.mailed_token("ada@test.com")
    with pytest.raises(OneTimeTokenNotFoundError):
        await world.confirm_password_reset()(
            ConfirmPasswordResetCommand(token=verification, password="long-enough")
        )
    await world.request_password_reset()(RequestPasswordResetCommand(email="ada@test.com"))
    reset = await world.mailed_token("ada@test.com")
    with pytest.raises(OneTimeTokenNotFoundError):
        await world.verify_email()(VerifyEmailCommand(token=reset))


async def test_reset_requests_are_limited_per_email(world: UsersWorld) -> None:
    for _ in range(5):
        await world.request_password_reset()(RequestPasswordResetCommand(email="ghost@test.com"))
    with pytest.raises(TooManyRequestsError):
        await world.request_password_reset()(RequestPasswordResetCommand(email="ghost@test.com"))


async def test_a_banned_account_gets_no_reset_link(world: UsersWorld) -> None:
    await world.queue.drain()
    user = await world.users.get_by_username("ada")
    assert user is not None
    user.ban(now=world.clock.now(), reason="test")
    await world.users.save(user)
    before = len(world.mailer.sent)
    await world.request_password_reset()(RequestPasswordResetCommand(email="ada@test.com"))
    await world.queue.drain()
    assert len(world.mailer.sent) == before


async def test_a_completed_reset_voids_every_other_reset_link(world: UsersWorld) -> None:
    await world.request_password_reset()(RequestPasswordResetCommand(email="ada@test.com"))
    first = await world.mailed_token("ada@test.com")
    await world.request_password_reset()(RequestPasswordResetCommand(email="ada@test.com"))
    second = await world.mailed_token("ada@test.com")
    assert first != second
    await world.confirm_password_reset()(
        ConfirmPasswordResetCommand(token=second, password="new-one-123")
    )
    with pytest.raises(OneTimeTokenNotFoundError):
        await world.confirm_password_reset()(
            ConfirmPasswordResetCommand(token=first, password="other-1234")
        )


async def test_a_new_email_is_unverified_until_its_own_link_is_used(world: UsersWorld) -> None:
    await world.verify_email()(VerifyEmailCommand(token=await world.mailed_token("ada@test.com")))
    user = await world.users.get_by_username("ada")
    assert user is not None
    me = Identity(user_id=user.id, role=user.role)
    await world.update_user()(
        UpdateUserCommand(
            actor=me, access_token="presented", email="ada@new.test", current_password="password123"
        )
    )
    changed = await world.users.get_by_username("ada")
    assert changed is not None
    assert changed.email_verified_at is None
    token = await world.mailed_token("ada@new.test")
    await world.verify_email()(VerifyEmailCommand(token=token))
    verified = await world.users.get_by_username("ada")
    assert verified is not None
    assert verified.email_verified_at is not None


async def test_resend_mails_a_new_link_only_while_unverified(world: UsersWorld) -> None:
    user = await world.users.get_by_username("ada")
    assert user is not None
    me = Identity(user_id=user.id, role=user.role)
    first = await world.mailed_token("ada@test.com")
    await world.resend_verification()(ResendVerificationCommand(actor=me))
    second = await world.mailed_token("ada@test.com")
    assert second != first
    await world.verify_email()(VerifyEmailCommand(token=second))
    sent = len(world.mailer.sent)
    await world.resend_verification()(ResendVerificationCommand(actor=me))
    await world.queue.drain()
    assert len(world.mailer.sent) == sent
