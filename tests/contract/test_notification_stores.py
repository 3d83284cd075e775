"""The notification stores, on the memory and PostgreSQL adapters alike."""

import base64
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.memory.database import InMemoryDatabase
from adapters.memory.notifications.delivery_log import InMemoryDeliveryLog
from adapters.memory.notifications.followers import InMemoryFollowerReader
from adapters.memory.notifications.inbox import InMemoryNotificationRepository
from adapters.memory.notifications.phone_verifications import InMemoryPhoneVerificationRepository
from adapters.memory.notifications.preferences import InMemoryNotificationPreferencesRepository
from adapters.memory.notifications.push_subscriptions import InMemoryPushSubscriptionRepository
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from adapters.memory.users import InMemoryUserRepository
from adapters.sqlalchemy.notifications.delivery_log import SqlDeliveryLog
from adapters.sqlalchemy.notifications.followers import SqlFollowerReader
from adapters.sqlalchemy.notifications.inbox import SqlNotificationRepository
from adapters.sqlalchemy.notifications.phone_verifications import SqlPhoneVerificationRepository
from adapters.sqlalchemy.notifications.preferences import SqlNotificationPreferencesRepository
from adapters.sqlalchemy.notifications.push_subscriptions import SqlPushSubscriptionRepository
from adapters.sqlalchemy.tables import notification_preferences, notifications
from adapters.sqlalchemy.users import SqlUserRepository
from adapters.system.uuid7 import Uuid7Generator
from application.notifications.ports import (
    DeliveryLog,
    DeliveryStatus,
    FollowerReader,
    NotificationPreferencesRepository,
    NotificationRepository,
    PhoneVerificationRepository,
    PushSubscriptionRepository,
)
from application.users.ports import UserRepository
from domain.notifications.notification import Channel, Notification, NotificationKind, Subject
from domain.notifications.phone import PhoneCodeError, PhoneNumber, PhoneVerification
from domain.notifications.preferences import DEFAULT_CHANNELS, NotificationPreferences
from domain.notifications.push import PushSubscription
from domain.users.user import User
from domain.users.values import Email, UserId, Username
from tests.support.postgres import engine_for_tests, truncate_all

NOW = datetime(2026, 6, 1, tzinfo=UTC)
ADA, BOB, CY = UserId(UUID(int=1)), UserId(UUID(int=2)), UserId(UUID(int=3))
IN_APP_AND_EMAIL = frozenset({Channel.IN_APP, Channel.EMAIL})
P256DH = base64.urlsafe_b64encode(b"\x04" + bytes(range(64))).decode().rstrip("=")
AUTH = base64.urlsafe_b64encode(bytes(range(16))).decode().rstrip("=")


def note(
    number: int,
    recipient: UserId = ADA,
    *,
    source: str | None = None,
    channels: frozenset[Channel] = IN_APP_AND_EMAIL,
    at: datetime = NOW,
    actor: UserId | None = BOB,
) -> Notification:
    return Notification(
        id=UUID(int=1000 + number),
        recipient_id=recipient,
        kind=NotificationKind.NEW_FOLLOWER,
        actor_id=actor,
        subject=Subject(type="user", id=str(BOB)),
        source=source or f"event-{number}",
        channels=channels,
        created_at=at,
        data={"username": "bob"},
    )


def subscription(user: UserId, endpoint: str, *, at: datetime = NOW) -> PushSubscription:
    return PushSubscription.create(user, endpoint=endpoint, p256dh=P256DH, auth=AUTH, created_at=at)


@dataclass
class Stores:
    users: UserRepository
    notifications: NotificationRepository
    preferences: NotificationPreferencesRepository
    deliveries: DeliveryLog
    push: PushSubscriptionRepository
    phones: PhoneVerificationRepository
    followers: FollowerReader
    connection: AsyncConnection | None = None

    async def user(self, user_id: UserId, name: str) -> UserId:
        await self.users.add(
            User.register(
                id=user_id,
                username=Username(name),
                email=Email.parse(f"{name}@test.com"),
                password_hash="hash",
                now=NOW,
            )
        )
        return user_id

    async def ids(self, **query: object) -> list[int]:
        arguments: dict[str, object] = {"unread_only": False, "limit": 20, "offset": 0, **query}
        recipient = arguments.pop("recipient", ADA)
        page = await self.notifications.list_for(recipient, **arguments)  # type: ignore[arg-type]
        return [n.id.int - 1000 for n in page.items]


@pytest.fixture(params=["memory", pytest.param("sqlalchemy", marks=pytest.mark.integration)])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    async with AsyncExitStack() as stack:
        if request.param == "memory":
            database = InMemoryDatabase()
            built = Stores(
                InMemoryUserRepository(database),
                InMemoryNotificationRepository(database),
                InMemoryNotificationPreferencesRepository(database),
                InMemoryDeliveryLog(database),
                InMemoryPushSubscriptionRepository(database),
                InMemoryPhoneVerificationRepository(database),
                InMemoryFollowerReader(database),
            )
        else:
            engine = engine_for_tests(request.getfixturevalue("migrated_url"))
            stack.push_async_callback(engine.dispose)
            stack.push_async_callback(truncate_all, engine)
            connection = await stack.enter_async_context(engine.connect())
            await connection.begin()
            built = Stores(
                SqlUserRepository(connection),
                SqlNotificationRepository(connection),
                SqlNotificationPreferencesRepository(connection),
                SqlDeliveryLog(connection),
                SqlPushSubscriptionRepository(connection),
                SqlPhoneVerificationRepository(connection),
                SqlFollowerReader(connection),
                connection,
            )
        for user_id, name in ((ADA, "ada"), (BOB, "bob"), (CY, "cy")):
            await built.user(user_id, name)
        yield built
        if built.connection is not None:
            await built.connection.commit()


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


async def test_preferences_default_until_chosen(stores: Stores) -> None:
    defaults = await stores.preferences.get(ADA)
    assert dict(defaults.chosen) == {}
    kind = NotificationKind.NEW_COMMENT
    assert defaults.channels_for(kind) == DEFAULT_CHANNELS[kind]


async def test_preferences_store_only_the_chosen_kinds_and_are_replaced(stores: Stores) -> None:
    chosen = NotificationPreferences().changed(
        {
            NotificationKind.NEW_COMMENT: {Channel.EMAIL: False, Channel.SMS: True},
            NotificationKind.ARTICLE_FAVORITED: {Channel.IN_APP: False, Channel.PUSH: False},
        }
    )
    await stores.preferences.save(ADA, chosen)
    loaded = await stores.preferences.get(ADA)
    assert dict(loaded.chosen) == {
        NotificationKind.NEW_COMMENT: frozenset({Channel.IN_APP, Channel.PUSH, Channel.SMS}),
        NotificationKind.ARTICLE_FAVORITED: frozenset(),
    }
    assert loaded.as_table() == chosen.as_table()
    fewer = NotificationPreferences().changed({NotificationKind.NEW_LOGIN: {Channel.PUSH: False}})
    await stores.preferences.save(ADA, fewer)
    assert dict((await stores.preferences.get(ADA)).chosen) == dict(fewer.chosen)


async def test_preferences_of_many_users_include_the_defaults(stores: Stores) -> None:
    chosen = NotificationPreferences().changed(
        {NotificationKind.NEW_ARTICLE: {Channel.EMAIL: False}}
    )
    await stores.preferences.save(BOB, chosen)
    many = await stores.preferences.get_many([ADA, BOB, CY, BOB])
    assert set(many) == {ADA, BOB, CY}
    assert dict(many[BOB].chosen) == dict(chosen.chosen)
    assert dict(many[ADA].chosen) == {}
    assert dict(many[CY].chosen) == {}
    assert await stores.preferences.get_many([]) == {}


@pytest.mark.integration
@pytest.mark.parametrize("stores", ["sqlalchemy"], indirect=True)
async def test_stored_kinds_and_channels_this_version_lacks_are_ignored(stores: Stores) -> None:
    """Only a database keeps what another version wrote, so this runs on PostgreSQL alone."""
    assert stores.connection is not None
    choices = {
        "new_comment": ["email", "carrier_pigeon"],
        "retired_kind": ["email"],
        "new_login": "not a list",
    }
    await stores.connection.execute(
        sa.insert(notification_preferences).values(user_id=ADA.value, choices=choices)
    )
    loaded = await stores.preferences.get(ADA)
    assert dict(loaded.chosen) == {NotificationKind.NEW_COMMENT: frozenset({Channel.EMAIL})}
    assert dict((await stores.preferences.get_many([ADA]))[ADA].chosen) == dict(loaded.chosen)
    await stores.notifications.add_new([note(1), note(2, at=NOW + timedelta(seconds=1))])
    await stores.connection.execute(
        sa.update(notifications)
        .where(notifications.c.id == UUID(int=1002))
        .values(kind="retired_kind")
    )
    await stores.connection.execute(
        sa.update(notifications)
        .where(notifications.c.id == UUID(int=1001))
        .values(channels=["in_app", "carrier_pigeon"])
    )
    assert await stores.ids() == [1]
    assert await stores.notifications.get(UUID(int=1002)) is None
    kept = await stores.notifications.get(UUID(int=1001))
    assert kept is not None
    assert kept.channels == frozenset({Channel.IN_APP})


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
