"""The notification delivery log, on the memory and PostgreSQL adapters alike: outcomes,
pending deliveries, and the claim that lets one run send each.
"""

from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import UUID

import pytest

from application.notifications.ports import (
    DeliveryStatus,
)
from domain.notifications.notification import Channel
from tests.support.notification_stores import (
    NOW,
    STORE_KINDS,
    Stores,
    note,
    notification_stores,
)


@pytest.fixture(params=STORE_KINDS)
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    async with notification_stores(request) as built:
        yield built


async def test_the_delivery_log_keeps_the_latest_outcome_and_counts_attempts(
    stores: Stores,
) -> None:
    await stores.notifications.add_new([note(1), note(2)])
    first, second = UUID(int=1001), UUID(int=1002)
    assert await stores.deliveries.get(first, Channel.EMAIL) is None
    await stores.deliveries.record(
        first, Channel.EMAIL, DeliveryStatus.FAILED, at=NOW, detail="timeout"
    )
    failed = await stores.deliveries.get(first, Channel.EMAIL)
    assert failed is not None
    assert (failed.status, failed.attempts, failed.detail, failed.updated_at) == (
        DeliveryStatus.FAILED,
        1,
        "timeout",
        NOW,
    )
    later = NOW + timedelta(minutes=5)
    await stores.deliveries.record(first, Channel.EMAIL, DeliveryStatus.SENT, at=later)
    sent = await stores.deliveries.get(first, Channel.EMAIL)
    assert sent is not None
    assert (sent.status, sent.attempts, sent.detail, sent.updated_at) == (
        DeliveryStatus.SENT,
        2,
        None,
        later,
    )
    await stores.deliveries.record(
        first, Channel.SMS, DeliveryStatus.SKIPPED, at=NOW, detail="x" * 600
    )
    await stores.deliveries.record(second, Channel.PUSH, DeliveryStatus.SENT, at=NOW)
    records = await stores.deliveries.for_notification(first)
    assert [(r.channel, r.status, r.attempts) for r in records] == [
        (Channel.EMAIL, DeliveryStatus.SENT, 2),
        (Channel.SMS, DeliveryStatus.SKIPPED, 1),
    ]
    assert records[1].detail == "x" * 500
    assert [r.notification_id for r in await stores.deliveries.for_notification(second)] == [second]
    assert await stores.deliveries.for_notification(UUID(int=9999)) == []


async def test_pending_deliveries_are_recorded_once_and_claimed_when_stale(
    stores: Stores,
) -> None:
    await stores.notifications.add_new([note(1), note(2)])
    first, second = UUID(int=1001), UUID(int=1002)
    await stores.deliveries.record(first, Channel.EMAIL, DeliveryStatus.SENT, at=NOW)
    await stores.deliveries.add_pending(
        [(first, Channel.EMAIL), (first, Channel.IN_APP), (second, Channel.PUSH)], at=NOW
    )
    await stores.deliveries.add_pending([(second, Channel.SMS)], at=NOW + timedelta(minutes=1))
    await stores.deliveries.add_pending([(first, Channel.IN_APP)], at=NOW + timedelta(hours=1))
    kept = await stores.deliveries.get(first, Channel.EMAIL)
    assert kept is not None
    assert (kept.status, kept.attempts) == (DeliveryStatus.SENT, 1)
    pending = await stores.deliveries.get(first, Channel.IN_APP)
    assert pending is not None
    assert (pending.status, pending.attempts, pending.updated_at) == (
        DeliveryStatus.PENDING,
        0,
        NOW,
    )

    later = NOW + timedelta(minutes=10)
    stale = await stores.deliveries.claim_stale_pending(
        older_than=NOW + timedelta(seconds=30), now=later, limit=10
    )
    assert sorted(stale) == sorted([(first, Channel.IN_APP), (second, Channel.PUSH)])
    claimed = await stores.deliveries.get(second, Channel.PUSH)
    assert claimed is not None
    assert (claimed.status, claimed.updated_at) == (DeliveryStatus.PENDING, later)
    assert await stores.deliveries.claim_stale_pending(
        older_than=NOW + timedelta(minutes=5), now=later, limit=10
    ) == [(second, Channel.SMS)]
    assert (
        await stores.deliveries.claim_stale_pending(
            older_than=NOW + timedelta(minutes=5), now=later, limit=10
        )
        == []
    )
    await stores.deliveries.record(first, Channel.IN_APP, DeliveryStatus.SENT, at=later)
    claimed_again = await stores.deliveries.claim_stale_pending(
        older_than=later + timedelta(seconds=1), now=later + timedelta(minutes=1), limit=1
    )
    assert len(claimed_again) == 1
    assert claimed_again[0] in {(second, Channel.PUSH), (second, Channel.SMS)}


async def test_a_delivery_is_claimed_by_one_run_until_that_run_is_presumed_dead(
    stores: Stores,
) -> None:
    await stores.notifications.add_new([note(1)])
    first = UUID(int=1001)
    stale_before = NOW - timedelta(minutes=5)
    await stores.deliveries.add_pending([(first, Channel.EMAIL)], at=NOW)
    assert await stores.deliveries.claim(first, Channel.EMAIL, now=NOW, stale_before=stale_before)
    assert not await stores.deliveries.claim(
        first, Channel.EMAIL, now=NOW, stale_before=stale_before
    ), "a second run may not send what the first is sending"
    much_later = NOW + timedelta(minutes=10)
    assert await stores.deliveries.claim(
        first, Channel.EMAIL, now=much_later, stale_before=much_later - timedelta(minutes=5)
    ), "a claim older than the threshold belongs to a run that died"
    await stores.deliveries.record(first, Channel.EMAIL, DeliveryStatus.FAILED, at=much_later)
    assert await stores.deliveries.claim(
        first, Channel.EMAIL, now=much_later, stale_before=stale_before
    ), "a failed delivery is retried"
    await stores.deliveries.record(first, Channel.EMAIL, DeliveryStatus.SENT, at=much_later)
    far_later = much_later + timedelta(days=1)
    assert not await stores.deliveries.claim(
        first, Channel.EMAIL, now=far_later, stale_before=far_later
    ), "a sent delivery is never sent again"
    assert await stores.deliveries.claim(first, Channel.SMS, now=NOW, stale_before=stale_before)
    claimed = await stores.deliveries.get(first, Channel.SMS)
    assert claimed is not None
    assert claimed.status is DeliveryStatus.SENDING
    assert await stores.deliveries.claim_stale_pending(
        older_than=NOW + timedelta(minutes=1), now=much_later, limit=10
    ) == [(first, Channel.SMS)]
    swept = await stores.deliveries.get(first, Channel.SMS)
    assert swept is not None
    assert (swept.status, swept.updated_at) == (DeliveryStatus.PENDING, much_later)
