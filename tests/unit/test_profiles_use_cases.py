"""The profiles use cases on in-memory adapters: state, results and events."""

import pytest

from application.profiles.errors import ProfileNotFoundError, SelfFollowError
from application.profiles.follow_relation import FollowCommand
from application.profiles.get_profile import GetProfileCommand
from tests.support.users import UsersWorld


@pytest.fixture
def world() -> UsersWorld:
    return UsersWorld()


async def test_follow_and_unfollow_are_idempotent_and_raise_one_event_each(
    world: UsersWorld,
) -> None:
    await world.register("celeb")
    me = world.identity_of(await world.register("fan"))
    for _ in range(2):
        view = await world.follow_user()(FollowCommand(actor=me, username="celeb"))
        assert view.following
    seen = await world.get_profile()(GetProfileCommand(username="celeb", viewer=me))
    assert seen.following
    anonymous = await world.get_profile()(GetProfileCommand(username="celeb", viewer=None))
    assert not anonymous.following
    for _ in range(2):
        view = await world.unfollow_user()(FollowCommand(actor=me, username="celeb"))
        assert not view.following
    follow_events = [t for t in world.event_types() if t.startswith("user.")][2:]
    assert follow_events == ["user.followed", "user.unfollowed"]


async def test_nobody_follows_themselves(world: UsersWorld) -> None:
    me = world.identity_of(await world.register("ada"))
    with pytest.raises(SelfFollowError) as caught:
        await world.follow_user()(FollowCommand(actor=me, username="ada"))
    assert (caught.value.field, caught.value.message) == ("profile", "cannot be yourself")
    view = await world.unfollow_user()(FollowCommand(actor=me, username="ada"))
    assert not view.following, "unfollowing oneself is as harmless as any unfollow"
    assert not any(t.endswith("followed") for t in world.event_types())


async def test_unknown_profiles_are_not_found(world: UsersWorld) -> None:
    me = world.identity_of(await world.register("ada"))
    with pytest.raises(ProfileNotFoundError):
        await world.get_profile()(GetProfileCommand(username="ghost", viewer=None))
    with pytest.raises(ProfileNotFoundError):
        await world.follow_user()(FollowCommand(actor=me, username="ghost"))


async def test_impossible_usernames_are_not_found(world: UsersWorld) -> None:
    with pytest.raises(ProfileNotFoundError):
        await world.get_profile()(GetProfileCommand(username="a\x00b", viewer=None))
