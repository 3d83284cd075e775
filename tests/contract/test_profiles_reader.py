"""The `ProfileReader` contract, and the follows it reads, on the memory and PostgreSQL
adapters."""

from collections.abc import AsyncIterator

import pytest

from domain.users.values import Profile
from tests.support.user_stores import NOW, STORE_KINDS, Stores, make_user, user_stores


@pytest.fixture(params=STORE_KINDS)
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    async with user_stores(request) as built:
        yield built


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
