"""Subscribing to and unsubscribing from Web Push on in-memory adapters."""

from datetime import timedelta

import pytest

from application.common.errors import InvalidInputError
from application.notifications.subscribe_to_push import SubscribeToPushCommand
from application.notifications.unsubscribe_from_push import (
    UnsubscribeFromPush,
    UnsubscribeFromPushCommand,
)
from domain.shared.errors import DomainError
from domain.users.values import UserId
from tests.support.notification_world import AUTH, P256DH, NotificationWorld, b64url


@pytest.fixture
def world() -> NotificationWorld:
    return NotificationWorld()


def subscribe(user: UserId, endpoint: str, *, auth: str = AUTH) -> SubscribeToPushCommand:
    return SubscribeToPushCommand(user_id=user, endpoint=endpoint, p256dh=P256DH, auth=auth)


async def test_subscriptions_are_limited_per_user(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    await world.subscribe_to_push()(subscribe(bob, "https://push.example.test/1"))
    await world.subscribe_to_push()(subscribe(bob, "https://push.example.test/2"))
    with pytest.raises(InvalidInputError) as caught:
        await world.subscribe_to_push()(subscribe(bob, "https://push.example.test/3"))
    assert caught.value.field == "endpoint"
    assert "limit of 2" in caught.value.message
    assert [s.endpoint for s in await world.push_subscriptions.for_user(bob)] == [
        "https://push.example.test/1",
        "https://push.example.test/2",
    ]


async def test_subscribing_the_same_endpoint_again_replaces_it(world: NotificationWorld) -> None:
    bob, cat = await world.user("bob"), await world.user("cat")
    await world.subscribe_to_push()(subscribe(bob, "https://push.example.test/1"))
    await world.subscribe_to_push()(subscribe(bob, "https://push.example.test/2"))
    world.clock.advance(timedelta(days=1))
    new_auth = b64url(bytes(range(100, 116)))
    renewed = await world.subscribe_to_push()(
        subscribe(bob, "https://push.example.test/1", auth=new_auth)  # at the limit: allowed
    )
    subscriptions = await world.push_subscriptions.for_user(bob)
    assert len(subscriptions) == 2
    assert renewed in subscriptions
    assert renewed.auth == new_auth
    assert renewed.created_at == world.clock.now()
    await world.subscribe_to_push()(subscribe(cat, "https://push.example.test/2"))
    assert [s.endpoint for s in await world.push_subscriptions.for_user(bob)] == [
        "https://push.example.test/1"
    ]
    assert [s.endpoint for s in await world.push_subscriptions.for_user(cat)] == [
        "https://push.example.test/2"
    ]


async def test_a_bad_subscription_is_refused_naming_the_field(world: NotificationWorld) -> None:
    bob = await world.user("bob")
    with pytest.raises(DomainError) as caught:
        await world.subscribe_to_push()(subscribe(bob, "http://push.example.test/1"))
    assert caught.value.field == "endpoint"
    with pytest.raises(DomainError) as caught:
        await world.subscribe_to_push()(subscribe(bob, "https://push.example.test/1", auth="x"))
    assert caught.value.field == "auth"
    assert await world.push_subscriptions.for_user(bob) == []


async def test_unsubscribing_forgets_only_the_callers_own(world: NotificationWorld) -> None:
    bob, cat = await world.user("bob"), await world.user("cat")
    await world.subscribe_to_push()(subscribe(bob, "https://push.example.test/1"))
    unsubscribe = UnsubscribeFromPush(world.uow(), world.push_subscriptions)
    endpoint = "https://push.example.test/1"
    assert not await unsubscribe(UnsubscribeFromPushCommand(user_id=cat, endpoint=endpoint))
    assert len(await world.push_subscriptions.for_user(bob)) == 1
    assert await unsubscribe(UnsubscribeFromPushCommand(user_id=bob, endpoint=endpoint))
    assert not await unsubscribe(UnsubscribeFromPushCommand(user_id=bob, endpoint=endpoint))
