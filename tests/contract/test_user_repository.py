"""The `UserRepository` and `ProfileReader` contracts, on the memory and PostgreSQL adapters."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import pytest

from adapters.memory.database import InMemoryDatabase
from adapters.memory.users import InMemoryProfileReader, InMemoryUserRepository
from adapters.sqlalchemy.users import SqlProfileReader, SqlUserRepository
from application.profiles.ports import ProfileReader
from application.users.errors import EmailTakenError, UsernameTakenError
from application.users.ports import UserRepository
from domain.users.user import User
from domain.users.values import Email, Profile, Role, UserId, Username
from tests.support.postgres import engine_for_tests, truncate_all

NOW = datetime(2026, 5, 1, tzinfo=UTC)


def make_user(number: int, name: str) -> User:
    return User.register(
        id=UserId(UUID(int=number)),
        username=Username(name),
        email=Email.parse(f"{name}@test.com"),
        password_hash=f"hash-{name}",
        now=NOW,
    )


@dataclass
class Stores:
    users: UserRepository
    profiles: ProfileReader


@pytest.fixture(params=["memory", pytest.param("sqlalchemy", marks=pytest.mark.integration)])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    if request.param == "memory":
        database = InMemoryDatabase()
        yield Stores(InMemoryUserRepository(database), InMemoryProfileReader(database))
        return
    engine = engine_for_tests(request.getfixturevalue("migrated_url"))
    try:
        async with AsyncExitStack() as stack:
            connection = await stack.enter_async_context(engine.connect())
            await connection.begin()
            yield Stores(SqlUserRepository(connection), SqlProfileReader(connection))
            await connection.commit()
    finally:
        await truncate_all(engine)
        await engine.dispose()


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


async def test_follows_are_added_once_and_removed_once(stores: Stores) -> None:
    fan, celeb = make_user(1, "fan"), make_user(2, "celeb")
    await stores.users.add(fan)
    await stores.users.add(celeb)
    assert await stores.users.add_follow(fan.id, celeb.id, at=NOW)
    assert not await stores.users.add_follow(fan.id, celeb.id, at=NOW)
    seen = await stores.profiles.by_username("celeb", viewer=fan.id)
    assert seen is not None
    assert seen.following
    reverse = await stores.profiles.by_username("fan", viewer=celeb.id)
    assert reverse is not None
    assert not reverse.following
    assert await stores.users.remove_follow(fan.id, celeb.id)
    assert not await stores.users.remove_follow(fan.id, celeb.id)
    after = await stores.profiles.by_username("celeb", viewer=fan.id)
    assert after is not None
    assert not after.following


async def test_profiles_show_bio_and_image_and_hide_the_rest(stores: Stores) -> None:
    user = make_user(1, "ada")
    user.update(now=NOW, profile=Profile(bio="Analyst", image="https://x.test/a.png"))
    await stores.users.add(user)
    view = await stores.profiles.by_username("ada", viewer=None)
    assert view is not None
    assert (view.username, view.bio, view.image, view.following) == (
        "ada",
        "Analyst",
        "https://x.test/a.png",
        False,
    )
    assert await stores.profiles.by_username("ghost", viewer=None) is None
