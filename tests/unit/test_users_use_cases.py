"""The users use cases on in-memory adapters: state, results and events."""

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from application.common.errors import (
    AuthenticationRequiredError,
    DependencyUnavailableError,
    InvalidCredentialsError,
    TooManyRequestsError,
)
from application.common.ports.rate_limits import (
    RateLimit,
    RateLimitDecision,
    RateLimiterUnavailableError,
)
from application.users.errors import AccountBannedError, EmailTakenError, UsernameTakenError
from application.users.get_current_user import GetCurrentUserCommand
from application.users.log_in import LogInCommand
from application.users.register_user import RegisterUserCommand
from application.users.update_user import UpdateUserCommand
from domain.shared.errors import DomainError
from domain.users.values import Email
from tests.support.users import UsersWorld


@pytest.fixture
def world() -> UsersWorld:
    return UsersWorld()


async def test_register_stores_a_hashed_password_and_raises_user_registered(
    world: UsersWorld,
) -> None:
    result = await world.register("ada", password="password123")
    assert (result.username, result.email, result.bio, result.image) == (
        "ada",
        "ada@test.com",
        None,
        None,
    )
    stored = await world.users.get_by_email(Email("ada@test.com"))
    assert stored is not None
    assert "password123" not in stored.password_hash
    assert world.event_types() == ["user.registered"]
    assert world.identity_of(result).user_id == stored.id


async def test_usernames_are_unique_without_case(world: UsersWorld) -> None:
    await world.register("ada")
    with pytest.raises(UsernameTakenError):
        await world.register_user()(
            RegisterUserCommand(username="ADA", email="other@test.com", password="password123")
        )
    assert world.event_types() == ["user.registered"]


async def test_emails_are_unique_after_normalizing(world: UsersWorld) -> None:
    await world.register("ada")
    with pytest.raises(EmailTakenError):
        await world.register_user()(
            RegisterUserCommand(username="bob", email=" ADA@Test.com ", password="password123")
        )


@pytest.mark.parametrize(
    ("username", "email", "password", "field"),
    [
        ("", "a@test.com", "password123", "username"),
        ("ada", "", "password123", "email"),
        ("ada", "a@test.com", "", "password"),
        ("ada", "a@test.com", "short", "password"),
    ],
)
async def test_register_names_the_invalid_field(
    world: UsersWorld, username: str, email: str, password: str, field: str
) -> None:
    with pytest.raises(DomainError) as caught:
        await world.register_user()(
            RegisterUserCommand(username=username, email=email, password=password)
        )
    assert caught.value.field == field
    assert world.event_types() == []


async def test_log_in_with_the_right_password(world: UsersWorld) -> None:
    await world.register("ada")
    result = await world.log_in()(LogInCommand(email="ADA@test.com", password="password123"))
    assert result.username == "ada"


@pytest.mark.parametrize(
    ("email", "password"),
    [("ada@test.com", "wrong-password"), ("nobody@test.com", "password123"), ("not-an-email", "x")],
)
async def test_log_in_failures_look_the_same_and_cost_a_verification(
    world: UsersWorld, email: str, password: str
) -> None:
    await world.register("ada")
    before = world.hasher.verifications
    with pytest.raises(InvalidCredentialsError) as caught:
        await world.log_in()(LogInCommand(email=email, password=password))
    assert caught.value.message == "invalid"
    assert world.hasher.verifications == before + 1


@pytest.mark.parametrize(
    ("email", "password", "field"), [("", "x", "email"), ("a@b.co", "", "password")]
)
async def test_log_in_with_a_blank_field_names_it(
    world: UsersWorld, email: str, password: str, field: str
) -> None:
    with pytest.raises(DomainError) as caught:
        await world.log_in()(LogInCommand(email=email, password=password))
    assert (caught.value.field, caught.value.message) == (field, "can't be blank")


async def test_a_banned_user_cannot_log_in(world: UsersWorld) -> None:
    await world.register("ada")
    user = await world.users.get_by_username("ada")
    assert user is not None
    user.banned_at = world.clock.now()
    await world.users.save(user)
    with pytest.raises(AccountBannedError):
        await world.log_in()(LogInCommand(email="ada@test.com", password="password123"))


async def test_an_outdated_hash_is_upgraded_on_log_in(world: UsersWorld) -> None:
    await world.register("ada")
    world.hasher = type(world.hasher)(version=2)
    await world.log_in()(LogInCommand(email="ada@test.com", password="password123"))
    user = await world.users.get_by_username("ada")
    assert user is not None
    assert user.password_hash.startswith("fake$v2$")


async def test_update_changes_only_what_was_sent_and_says_what_changed(
    world: UsersWorld,
) -> None:
    me = world.identity_of(await world.register("ada"))
    result = await world.update_user()(
        UpdateUserCommand(actor=me, access_token="presented", bio="Hello", image="")
    )
    assert (result.bio, result.image, result.username) == ("Hello", None, "ada")
    result = await world.update_user()(
        UpdateUserCommand(actor=me, access_token="presented", bio=None)
    )
    assert result.bio is None
    assert world.event_types() == [
        "user.registered",
        "user.profile_updated",
        "user.profile_updated",
    ]
    changed = [m.event.changed for m in world.database.outbox[1:]]  # type: ignore[attr-defined]
    assert changed == [("bio",), ("bio",)]


async def test_update_refuses_a_username_taken_by_someone_else(world: UsersWorld) -> None:
    await world.register("bob")
    me = world.identity_of(await world.register("ada"))
    with pytest.raises(UsernameTakenError):
        await world.update_user()(
            UpdateUserCommand(actor=me, access_token="presented", username="BOB")
        )
    renamed = await world.update_user()(
        UpdateUserCommand(actor=me, access_token="presented", username="Ada")
    )
    assert renamed.username == "Ada"


async def test_changing_the_password_raises_password_changed(world: UsersWorld) -> None:
    me = world.identity_of(await world.register("ada"))
    await world.update_user()(
        UpdateUserCommand(actor=me, access_token="presented", password="bonjour1")
    )
    assert world.event_types()[-1] == "user.password_changed"
    await world.log_in()(LogInCommand(email="ada@test.com", password="bonjour1"))
    with pytest.raises(InvalidCredentialsError):
        await world.log_in()(LogInCommand(email="ada@test.com", password="password123"))


async def test_a_deleted_account_no_longer_authenticates(world: UsersWorld) -> None:
    me = world.identity_of(await world.register("ada"))
    world.database.table("users").clear()
    with pytest.raises(AuthenticationRequiredError):
        await world.get_current_user()(GetCurrentUserCommand(actor=me, access_token="presented"))


async def test_tokens_expire_with_the_clock(world: UsersWorld) -> None:
    result = await world.register("ada")
    world.clock.advance(timedelta(minutes=16))
    with pytest.raises(Exception, match="expired"):
        world.tokens.read_access_token(result.token)


class DownLimiter:
    async def acquire(self, key: str, rate: RateLimit) -> RateLimitDecision:
        raise RateLimiterUnavailableError("down")

    async def refund(self, key: str, rate: RateLimit) -> None:
        raise RateLimiterUnavailableError("down")


async def test_ten_failed_logins_lock_that_client_out_for_the_window(world: UsersWorld) -> None:
    await world.register("ada")
    for _ in range(10):
        with pytest.raises(InvalidCredentialsError):
            await world.log_in()(LogInCommand(email="ada@test.com", password="wrong-password"))
    with pytest.raises(TooManyRequestsError) as caught:
        await world.log_in()(LogInCommand(email="ada@test.com", password="password123"))
    assert 1 <= caught.value.retry_after_seconds <= 90
    world.clock.advance(timedelta(minutes=15))
    result = await world.log_in()(LogInCommand(email="ada@test.com", password="password123"))
    assert result.username == "ada"


async def test_successful_logins_do_not_count_against_the_account(world: UsersWorld) -> None:
    await world.register("ada")
    for _ in range(15):
        await world.log_in()(LogInCommand(email="ada@test.com", password="password123"))


async def test_the_login_limiter_fails_closed_by_default(world: UsersWorld) -> None:
    await world.register("ada")
    world.limiter = DownLimiter()
    with pytest.raises(DependencyUnavailableError):
        await world.log_in()(LogInCommand(email="ada@test.com", password="password123"))


async def test_the_login_limiter_can_be_told_to_fail_open(world: UsersWorld) -> None:
    await world.register("ada")
    world.limiter = DownLimiter()
    world.throttle = replace(world.throttle, fail_open=True)
    result = await world.log_in()(LogInCommand(email="ada@test.com", password="password123"))
    assert result.username == "ada"
    with pytest.raises(InvalidCredentialsError):
        await world.log_in()(LogInCommand(email="ada@test.com", password="wrong-password"))


async def test_passwords_are_normalized_the_same_way_at_sign_in(world: UsersWorld) -> None:
    full_width = "\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44\uff11\uff12\uff13"
    decomposed = "cafe\u0301-au-lait"
    for name, password in (("wide", full_width), ("accent", decomposed)):
        await world.register(name, password=password)
        result = await world.log_in()(LogInCommand(email=f"{name}@test.com", password=password))
        assert result.username == name


async def test_parallel_wrong_guesses_cannot_overrun_the_limit(world: UsersWorld) -> None:
    await world.register("ada")

    async def guess() -> str:
        try:
            await world.log_in()(LogInCommand(email="ada@test.com", password="wrong-password"))
        except InvalidCredentialsError:
            return "401"
        except TooManyRequestsError:
            return "429"
        return "200"

    outcomes = await asyncio.gather(*(guess() for _ in range(40)))
    assert outcomes.count("401") == 10
    assert outcomes.count("429") == 30


async def test_control_characters_are_refused_in_the_bio(world: UsersWorld) -> None:
    me = world.identity_of(await world.register("ada"))
    for bio in ("a\x00b", "bell\x07", "\u202eevil"):
        with pytest.raises(DomainError) as caught:
            await world.update_user()(
                UpdateUserCommand(actor=me, access_token="presented", bio=bio)
            )
        assert caught.value.field == "bio"
    ok = await world.update_user()(
        UpdateUserCommand(actor=me, access_token="presented", bio="line one\nline two\ttab")
    )
    assert ok.bio == "line one\nline two\ttab"
