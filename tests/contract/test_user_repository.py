"""The `UserRepository` contract, on the memory and PostgreSQL adapters."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID

import pytest

from application.users.errors import EmailTakenError, UsernameTakenError
from domain.users.values import Email, Profile, Role, UserId, Username
from tests.support.user_stores import NOW, STORE_KINDS, Stores, make_user, user_stores


@pytest.fixture(params=STORE_KINDS)
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    async with user_stores(request) as built:
        yield built


async def test_a_user_round_trips(stores: Stores) -> None:
    user = make_user(1, "ada")
    await stores.users.add(user)
    loaded = await stores.users.get(user.id)
    assert loaded is not None
    assert (loaded.username, loaded.email, loaded.password_hash) == (
        Username("ada"),
        Email("ada@test.com"),
        "hash-ada",
    )
    assert (loaded.role, loaded.profile, loaded.created_at) == (Role.USER, Profile(), NOW)
    assert not loaded.has_pending_events
    assert (await stores.users.get_by_email(Email("ada@test.com"))) is not None
    assert (await stores.users.get_by_username("ada")) is not None


async def test_lookups_of_missing_users_return_none(stores: Stores) -> None:
    assert await stores.users.get(UserId(UUID(int=99))) is None
    assert await stores.users.get_by_email(Email("nobody@test.com")) is None
    assert await stores.users.get_by_username("nobody") is None


async def test_username_lookup_is_exact_but_taken_ignores_case(stores: Stores) -> None:
    await stores.users.add(make_user(1, "Ada"))
    assert await stores.users.get_by_username("ada") is None
    assert await stores.users.username_taken(Username("ADA"))
    assert not await stores.users.username_taken(Username("bob"))


async def test_adding_a_taken_username_or_email_is_refused(stores: Stores) -> None:
    await stores.users.add(make_user(1, "ada"))
    clash = make_user(2, "ADA")
    clash.email = Email("clash@test.com")
    with pytest.raises(UsernameTakenError):
        await stores.users.add(clash)
    other = make_user(3, "bob")
    other.email = Email("ada@test.com")
    with pytest.raises(EmailTakenError):
        await stores.users.add(other)
    assert await stores.users.get(UserId(UUID(int=2))) is None


async def test_save_stores_every_change(stores: Stores) -> None:
    user = make_user(1, "ada")
    await stores.users.add(user)
    later = datetime(2026, 5, 2, tzinfo=UTC)
    user.update(now=later, username=Username("ada2"), profile=Profile(bio="hi", image=None))
    user.role = Role.MODERATOR
    user.banned_at = later
    await stores.users.save(user)
    loaded = await stores.users.get(user.id)
    assert loaded is not None
    assert (loaded.username, loaded.profile.bio, loaded.role) == (
        Username("ada2"),
        "hi",
        Role.MODERATOR,
    )
    assert (loaded.banned_at, loaded.updated_at) == (later, later)


async def test_saving_into_a_taken_username_is_refused(stores: Stores) -> None:
    await stores.users.add(make_user(1, "ada"))
    bob = make_user(2, "bob")
    await stores.users.add(bob)
    bob.update(now=NOW, username=Username("Ada"))
    with pytest.raises(UsernameTakenError):
        await stores.users.save(bob)
