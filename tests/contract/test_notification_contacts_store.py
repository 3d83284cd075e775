"""Where notifications reach a user outside the app, on the memory and PostgreSQL adapters
alike: Web Push subscriptions and the verified phone number.
"""

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from domain.notifications.phone import PhoneCodeError, PhoneNumber, PhoneVerification
from tests.support.notification_stores import (
    ADA,
    BOB,
    CY,
    NOW,
    STORE_KINDS,
    Stores,
    notification_stores,
    subscription,
)


@pytest.fixture(params=STORE_KINDS)
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    async with notification_stores(request) as built:
        yield built


async def test_push_subscriptions_are_kept_by_endpoint(stores: Stores) -> None:
    await stores.push.add(subscription(ADA, "https://push.test/b", at=NOW + timedelta(hours=1)))
    await stores.push.add(subscription(ADA, "https://push.test/a", at=NOW + timedelta(hours=2)))
    await stores.push.add(subscription(ADA, "https://push.test/c", at=NOW))
    assert [s.endpoint for s in await stores.push.for_user(ADA)] == [
        "https://push.test/c",
        "https://push.test/b",
        "https://push.test/a",
    ]
    moved = subscription(BOB, "https://push.test/b", at=NOW + timedelta(days=1))
    await stores.push.add(moved)
    assert [s.endpoint for s in await stores.push.for_user(ADA)] == [
        "https://push.test/c",
        "https://push.test/a",
    ]
    assert list(await stores.push.for_user(BOB)) == [moved]
    assert await stores.push.for_user(CY) == []


async def test_push_subscriptions_are_removed_by_owner_or_by_endpoint(stores: Stores) -> None:
    await stores.push.add(subscription(ADA, "https://push.test/a"))
    await stores.push.add(subscription(BOB, "https://push.test/b"))
    assert not await stores.push.remove(BOB, "https://push.test/a")
    assert [s.user_id for s in await stores.push.for_user(ADA)] == [ADA]
    assert await stores.push.remove(ADA, "https://push.test/a")
    assert not await stores.push.remove(ADA, "https://push.test/a")
    assert await stores.push.for_user(ADA) == []
    await stores.push.remove_endpoint("https://push.test/b")
    await stores.push.remove_endpoint("https://push.test/missing")
    assert await stores.push.for_user(BOB) == []


async def test_a_phone_number_round_trips_with_its_verification(stores: Stores) -> None:
    assert await stores.phones.get(ADA) is None
    expires = NOW + timedelta(minutes=10)
    pending = PhoneVerification.start(
        ADA, PhoneNumber.parse("+1 415 555 0100"), code_hash="h1", expires_at=expires
    )
    await stores.phones.save(pending)
    loaded = await stores.phones.get(ADA)
    assert loaded == pending
    assert loaded is not pending
    assert loaded is not None
    with pytest.raises(PhoneCodeError, match="invalid"):
        loaded.verify("wrong", now=NOW)
    await stores.phones.save(loaded)
    again = await stores.phones.get(ADA)
    assert again is not None
    assert again.attempts_left == pending.attempts_left - 1
    again.verify("h1", now=NOW)
    await stores.phones.save(again)
    verified = await stores.phones.get(ADA)
    assert verified is not None
    assert verified.is_verified
    assert (verified.verified_at, verified.code_hash, verified.code_expires_at) == (
        NOW,
        None,
        None,
    )
    assert await stores.phones.get(BOB) is None
    assert await stores.phones.remove(ADA)
    assert not await stores.phones.remove(ADA)
    assert await stores.phones.get(ADA) is None


async def test_a_new_number_replaces_the_old_one(stores: Stores) -> None:
    first = PhoneVerification.start(
        ADA, PhoneNumber.parse("+14155550100"), code_hash="h1", expires_at=NOW
    )
    await stores.phones.save(first)
    second = PhoneVerification.start(
        ADA, PhoneNumber.parse("+442071838750"), code_hash="h2", expires_at=NOW
    )
    await stores.phones.save(second)
    assert await stores.phones.get(ADA) == second
