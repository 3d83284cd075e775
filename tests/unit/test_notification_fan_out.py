"""FanOutToFollowers on in-memory adapters: batches chained by jobs, each follower told once."""

from uuid import UUID

import pytest

from application.notifications.fan_out_to_followers import (
    FAN_OUT_TO_FOLLOWERS,
    FanOutToFollowersCommand,
)
from application.notifications.notification_factory import NotificationDraft
from domain.notifications.notification import NotificationKind, Subject
from domain.users.values import UserId
from tests.support.notification_drafts import draft
from tests.support.notification_world import NotificationWorld, followed_author


@pytest.fixture
def world() -> NotificationWorld:
    return NotificationWorld()


async def test_fan_out_goes_in_batches_chained_by_jobs(world: NotificationWorld) -> None:
    world.batch_size = 2
    author, fans = await followed_author(world, 5)
    first = FanOutToFollowersCommand(
        followee=author, draft=draft(author, kind=NotificationKind.NEW_ARTICLE, source="pub-1")
    )
    assert await world.fan_out()(first) == 2
    [continuation] = world.queue.of(FAN_OUT_TO_FOLLOWERS)
    following = FanOutToFollowersCommand.from_payload(continuation)
    assert following == FanOutToFollowersCommand(
        followee=author, draft=first.draft, after=sorted(fans, key=lambda u: u.value)[1]
    )
    assert following.as_payload() == continuation
    assert await world.run_fan_out_jobs() == [2, 1]  # the partial batch ends the chain
    assert world.queue.of(FAN_OUT_TO_FOLLOWERS) == []
    notified = [n.recipient_id for n in world.stored()]
    assert sorted(notified, key=lambda u: u.value) == sorted(fans, key=lambda u: u.value)
    assert {n.kind for n in world.stored()} == {NotificationKind.NEW_ARTICLE}
    pairs = world.delivery_pairs()
    assert len(pairs) == len(set(pairs)) == 5 * 3


async def test_a_full_last_batch_is_followed_by_an_empty_one(world: NotificationWorld) -> None:
    world.batch_size = 2
    author, fans = await followed_author(world, 4)
    command = FanOutToFollowersCommand(
        followee=author, draft=draft(author, kind=NotificationKind.NEW_ARTICLE)
    )
    assert await world.fan_out()(command) == 2
    assert await world.run_fan_out_jobs() == [2, 0]
    assert len(world.stored()) == len(fans)


async def test_a_batch_run_twice_notifies_each_follower_once(world: NotificationWorld) -> None:
    world.batch_size = 2
    author, fans = await followed_author(world, 5)
    command = FanOutToFollowersCommand(
        followee=author, draft=draft(author, kind=NotificationKind.NEW_ARTICLE, source="pub-1")
    )
    assert await world.fan_out()(command) == 2
    assert await world.fan_out()(command) == 0  # a redelivered job
    [again, twice] = world.queue.of(FAN_OUT_TO_FOLLOWERS)
    assert again == twice
    assert await world.run_fan_out_jobs() == [2, 0, 1, 0]  # each batch twice
    recipients = [n.recipient_id for n in world.stored()]
    assert len(recipients) == len(set(recipients)) == len(fans)
    pairs = world.delivery_pairs()
    assert len(pairs) == len(set(pairs)) == 5 * 3


def test_the_fan_out_payload_round_trips() -> None:
    command = FanOutToFollowersCommand(
        followee=UserId(UUID(int=1)),
        after=None,
        draft=NotificationDraft(
            kind=NotificationKind.NEW_LOGIN,
            actor_id=None,
            subject=Subject(type="session", id="s-1"),
            source="evt",
            data={"device": 'Émile\'s "phone"', "ip_address": "::1"},
        ),
    )
    payload = command.as_payload()
    assert all(isinstance(value, str) for value in payload.values())
    assert FanOutToFollowersCommand.from_payload(payload) == command
    later = FanOutToFollowersCommand(
        followee=command.followee, draft=command.draft, after=UserId(UUID(int=9))
    )
    assert FanOutToFollowersCommand.from_payload(later.as_payload()) == later
