"""The notification inbox store, on the memory and PostgreSQL adapters alike: adding without
repeats, lists, pages, read marks, purges, and the followers a fan-out reaches.
"""

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from uuid import UUID

import pytest

from adapters.memory.database import InMemoryDatabase
from adapters.memory.notifications.inbox import InMemoryNotificationRepository
from adapters.memory.notifications.preferences import InMemoryNotificationPreferencesRepository
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from adapters.memory.users import InMemoryUserRepository
from adapters.system.uuid7 import Uuid7Generator
from domain.notifications.notification import Channel, NotificationKind, Subject
from domain.notifications.preferences import NotificationPreferences
from domain.users.user import User
from domain.users.values import Email, UserId, Username
from tests.support.notification_stores import (
    ADA,
    BOB,
    CY,
    IN_APP_AND_EMAIL,
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


async def test_a_notification_round_trips(stores: Stores) -> None:
    stored = await stores.notifications.add_new([note(1)])
    assert [n.id for n in stored] == [UUID(int=1001)]
    loaded = await stores.notifications.get(UUID(int=1001))
    assert loaded is not None
    assert (loaded.recipient_id, loaded.kind, loaded.actor_id, loaded.subject) == (
        ADA,
        NotificationKind.NEW_FOLLOWER,
        BOB,
        Subject(type="user", id=str(BOB)),
    )
    assert (loaded.source, loaded.channels, loaded.created_at, loaded.read_at) == (
        "event-1",
        IN_APP_AND_EMAIL,
        NOW,
        None,
    )
    assert dict(loaded.data) == {"username": "bob"}
    assert await stores.notifications.get(UUID(int=9999)) is None


async def test_a_notification_without_an_actor_round_trips(stores: Stores) -> None:
    await stores.notifications.add_new([note(1, actor=None)])
    loaded = await stores.notifications.get(UUID(int=1001))
    assert loaded is not None
    assert loaded.actor_id is None


async def test_add_new_skips_a_source_the_recipient_already_has(stores: Stores) -> None:
    assert len(await stores.notifications.add_new([note(1, source="e")])) == 1
    assert await stores.notifications.add_new([note(2, source="e")]) == []
    assert await stores.notifications.get(UUID(int=1002)) is None
    assert await stores.ids() == [1]


async def test_add_new_keeps_the_first_of_repeats_within_one_batch(stores: Stores) -> None:
    stored = await stores.notifications.add_new(
        [note(1, source="e"), note(2, source="e"), note(3, source="f")]
    )
    assert [n.id.int - 1000 for n in stored] == [1, 3]
    assert sorted(await stores.ids()) == [1, 3]


async def test_one_source_reaches_every_recipient_once(stores: Stores) -> None:
    batch = [note(1, CY, source="e"), note(2, ADA, source="e"), note(3, BOB, source="e")]
    assert len(await stores.notifications.add_new(batch)) == 3
    again = [note(4, ADA, source="e"), note(5, CY, source="e"), note(6, BOB, source="other")]
    assert [n.id.int - 1000 for n in await stores.notifications.add_new(again)] == [6]
    by_source = await stores.notifications.for_source("e")
    assert [(n.recipient_id, n.id.int - 1000) for n in by_source] == [(ADA, 2), (BOB, 3), (CY, 1)]
    assert await stores.notifications.for_source("missing") == []


async def test_a_large_fan_out_is_stored_in_one_call(stores: Stores) -> None:
    batch = [note(n, ADA, source=f"e{n}") for n in range(1, 301)]
    assert len(await stores.notifications.add_new(batch)) == 300
    assert len(await stores.notifications.add_new([*batch[:10], note(301)])) == 1
    assert await stores.notifications.unread_count(ADA) == 301


async def test_get_finds_anyones_notification(stores: Stores) -> None:
    await stores.notifications.add_new([note(1, BOB)])
    loaded = await stores.notifications.get(UUID(int=1001))
    assert loaded is not None
    assert loaded.recipient_id == BOB


async def test_recipients_told_since_matches_kind_actor_recipient_and_time(
    stores: Stores,
) -> None:
    """Only a notification of that kind, by that actor, to one of those recipients, at or
    after the instant counts; read ones and ones outside the list count too."""
    hour = timedelta(hours=1)
    await stores.notifications.add_new(
        [
            note(1, ADA, at=NOW - hour),
            note(2, CY, at=NOW - 2 * hour, channels=frozenset({Channel.EMAIL})),
            note(3, BOB, actor=CY, at=NOW),
            replace(note(4, BOB, at=NOW), kind=NotificationKind.NEW_ARTICLE),
        ]
    )
    await stores.notifications.mark_read(ADA, [UUID(int=1001)], at=NOW)
    told = stores.notifications.recipients_told_since
    kind = NotificationKind.NEW_FOLLOWER
    assert await told(kind, BOB, [ADA, BOB, CY], since=NOW - 2 * hour) == {ADA, CY}
    assert await told(kind, BOB, [ADA, BOB, CY], since=NOW - hour) == {ADA}
    assert await told(kind, BOB, [CY], since=NOW - hour) == frozenset()
    assert await told(kind, BOB, [ADA], since=NOW - hour + timedelta(microseconds=1)) == set()
    assert await told(kind, CY, [BOB, ADA], since=NOW) == {BOB}
    assert await told(NotificationKind.NEW_ARTICLE, BOB, [BOB], since=NOW) == {BOB}
    assert await told(kind, BOB, [], since=NOW - 2 * hour) == frozenset()


async def test_lists_and_counts_show_only_in_app_notifications(stores: Stores) -> None:
    await stores.notifications.add_new(
        [
            note(1, at=NOW),
            note(2, channels=frozenset({Channel.EMAIL}), at=NOW + timedelta(seconds=1)),
            note(3, channels=frozenset({Channel.IN_APP}), at=NOW + timedelta(seconds=2)),
        ]
    )
    assert await stores.ids() == [3, 1]
    unread = await stores.notifications.list_for(ADA, unread_only=True, limit=5, offset=0)
    assert ([n.id.int - 1000 for n in unread.items], unread.total) == ([3, 1], 2)
    assert await stores.notifications.unread_count(ADA) == 2
    assert await stores.notifications.mark_all_read(ADA, at=NOW) == 2
    email_only = await stores.notifications.get(UUID(int=1002))
    assert email_only is not None
    assert email_only.read_at is None


async def test_mark_read_by_id_also_reaches_notifications_outside_the_list(
    stores: Stores,
) -> None:
    await stores.notifications.add_new([note(1, channels=frozenset({Channel.EMAIL}))])
    marked = await stores.notifications.mark_read(ADA, [UUID(int=1001)], at=NOW)
    assert [(n.id.int - 1000, n.read_at) for n in marked] == [(1, NOW)]


async def test_pages_are_newest_first_with_ties_by_id_and_count_every_match(
    stores: Stores,
) -> None:
    later = NOW + timedelta(minutes=1)
    await stores.notifications.add_new(
        [note(1, at=NOW), note(2, at=later), note(3, at=NOW), note(4, at=later), note(5, at=NOW)]
    )
    assert await stores.ids() == [4, 2, 5, 3, 1]
    first = await stores.notifications.list_for(ADA, unread_only=False, limit=2, offset=0)
    assert ([n.id.int - 1000 for n in first.items], first.total) == ([4, 2], 5)
    last = await stores.notifications.list_for(ADA, unread_only=False, limit=2, offset=4)
    assert ([n.id.int - 1000 for n in last.items], last.total) == ([1], 5)
    beyond = await stores.notifications.list_for(ADA, unread_only=False, limit=2, offset=10)
    assert (list(beyond.items), beyond.total) == ([], 5)
    empty = await stores.notifications.list_for(BOB, unread_only=False, limit=2, offset=0)
    assert (list(empty.items), empty.total) == ([], 0)


async def test_the_unread_filter_and_count(stores: Stores) -> None:
    await stores.notifications.add_new(
        [note(n, at=NOW + timedelta(seconds=n)) for n in range(1, 5)]
    )
    await stores.notifications.mark_read(ADA, [UUID(int=1002), UUID(int=1004)], at=NOW)
    unread = await stores.notifications.list_for(ADA, unread_only=True, limit=1, offset=0)
    assert ([n.id.int - 1000 for n in unread.items], unread.total) == ([3], 2)
    assert await stores.ids(unread_only=True) == [3, 1]
    assert await stores.ids() == [4, 3, 2, 1]
    assert await stores.notifications.unread_count(ADA) == 2


async def test_mark_read_returns_the_recipients_found_ones_and_keeps_the_first_read_time(
    stores: Stores,
) -> None:
    await stores.notifications.add_new([note(1), note(2), note(3, BOB)])
    first = await stores.notifications.mark_read(ADA, [UUID(int=1001)], at=NOW)
    assert [(n.id.int - 1000, n.read_at) for n in first] == [(1, NOW)]
    later = NOW + timedelta(hours=1)
    marked = await stores.notifications.mark_read(
        ADA,
        [UUID(int=1002), UUID(int=1001), UUID(int=1003), UUID(int=9999), UUID(int=1002)],
        at=later,
    )
    assert [(n.id.int - 1000, n.read_at) for n in marked] == [(2, later), (1, NOW)]
    assert await stores.notifications.mark_read(ADA, [], at=later) == []


async def test_a_recipient_never_reaches_anothers_notifications(stores: Stores) -> None:
    await stores.notifications.add_new([note(1, ADA), note(2, BOB), note(3, BOB)])
    assert await stores.notifications.mark_read(ADA, [UUID(int=1002)], at=NOW) == []
    bobs = await stores.notifications.get(UUID(int=1002))
    assert bobs is not None
    assert bobs.read_at is None
    assert await stores.ids() == [1]
    assert sorted(await stores.ids(recipient=BOB)) == [2, 3]
    assert await stores.notifications.unread_count(ADA) == 1
    assert await stores.notifications.mark_all_read(ADA, at=NOW) == 1
    assert await stores.notifications.unread_count(BOB) == 2
    assert await stores.ids(recipient=CY) == []


async def test_mark_all_read_counts_only_what_was_unread(stores: Stores) -> None:
    await stores.notifications.add_new([note(1), note(2), note(3)])
    await stores.notifications.mark_read(ADA, [UUID(int=1001)], at=NOW)
    later = NOW + timedelta(hours=1)
    assert await stores.notifications.mark_all_read(ADA, at=later) == 2
    assert await stores.notifications.mark_all_read(ADA, at=later) == 0
    assert await stores.notifications.unread_count(ADA) == 0
    page = await stores.notifications.list_for(ADA, unread_only=False, limit=5, offset=0)
    assert {n.id.int - 1000: n.read_at for n in page.items} == {1: NOW, 2: later, 3: later}


async def test_followers_come_in_keyset_pages_by_id(stores: Stores) -> None:
    fans = [UserId(UUID(int=n)) for n in (17, 12, 15, 11, 14)]
    for number, fan in enumerate(fans):
        await stores.user(fan, f"fan{number}")
        await stores.users.add_follow(fan, ADA, at=NOW)
    await stores.users.add_follow(BOB, CY, at=NOW)
    await stores.users.add_follow(CY, BOB, at=NOW)
    first = await stores.followers.followers(ADA, after=None, limit=2)
    assert [f.value.int for f in first] == [11, 12]
    second = await stores.followers.followers(ADA, after=first[-1], limit=2)
    assert [f.value.int for f in second] == [14, 15]
    third = await stores.followers.followers(ADA, after=second[-1], limit=2)
    assert [f.value.int for f in third] == [17]
    assert await stores.followers.followers(ADA, after=third[-1], limit=2) == []
    assert await stores.followers.followers(CY, after=None, limit=10) == [BOB]
    assert await stores.followers.followers(BOB, after=CY, limit=10) == []


async def test_memory_rows_survive_a_rollback_snapshot() -> None:
    database = InMemoryDatabase()
    await InMemoryUserRepository(database).add(
        User.register(
            id=ADA,
            username=Username("ada"),
            email=Email.parse("ada@test.com"),
            password_hash="hash",
            now=NOW,
        )
    )
    repository = InMemoryNotificationRepository(database)
    preferences = InMemoryNotificationPreferencesRepository(database)
    async with InMemoryUnitOfWork(database, Uuid7Generator()) as unit_of_work:
        await repository.add_new([note(1)])
        await preferences.save(
            ADA,
            NotificationPreferences().changed({NotificationKind.NEW_LOGIN: {Channel.SMS: True}}),
        )
        await unit_of_work.commit()
        await repository.add_new([note(2)])
        await repository.mark_read(ADA, [UUID(int=1001)], at=NOW)
        await unit_of_work.rollback()
    page = await repository.list_for(ADA, unread_only=False, limit=5, offset=0)
    assert [(n.id.int - 1000, n.read_at) for n in page.items] == [(1, None)]
    assert NotificationKind.NEW_LOGIN in (await preferences.get(ADA)).chosen


async def test_old_notifications_are_purged_oldest_first_with_their_deliveries(
    stores: Stores,
) -> None:
    day = timedelta(days=1)
    await stores.notifications.add_new(
        [
            note(1, at=NOW - 3 * day),
            note(2, BOB, at=NOW - 2 * day, actor=ADA),
            note(3, at=NOW - 2 * day),
            note(4, at=NOW),
        ]
    )
    await stores.deliveries.add_pending([(UUID(int=1001), Channel.EMAIL)], at=NOW)
    assert await stores.notifications.purge_created_before(NOW - day, limit=2) == 2
    assert await stores.notifications.get(UUID(int=1001)) is None
    assert await stores.deliveries.get(UUID(int=1001), Channel.EMAIL) is None
    assert await stores.notifications.purge_created_before(NOW - day, limit=2) == 1
    assert await stores.notifications.purge_created_before(NOW - day, limit=2) == 0
    assert await stores.notifications.get(UUID(int=1004)) is not None
