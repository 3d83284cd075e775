"""Notifications, preferences, deliveries, push subscriptions and phones in PostgreSQL.

Every adapter runs SQLAlchemy Core on the request's connection; the unit of work owns the
transaction. Values another version of the code may have written (a kind or channel this
one does not know) are left out when read, rather than failing the whole read.

One module for the notifications context, as its port module and its memory twin are, so
the three read side by side; past 400 lines it waits for the reshaping of the contexts
(issue 20), which splits all three the same way (notifications, deliveries, channels).
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sqlalchemy.tables import (
    follows,
    notification_deliveries,
    notification_preferences,
    phone_numbers,
    push_subscriptions,
)
from adapters.sqlalchemy.tables import (
    notifications as notifications_table,
)
from application.ports.notifications import (
    DELIVERY_DETAIL_MAX,
    DeliveryRecord,
    DeliveryStatus,
    NotificationPage,
)
from domain.notifications.notification import Channel, Notification, NotificationKind, Subject
from domain.notifications.phone import PhoneNumber, PhoneVerification
from domain.notifications.preferences import NotificationPreferences
from domain.notifications.push import PushSubscription
from domain.users.values import UserId

_Enum = TypeVar("_Enum", bound=StrEnum)

INSERT_CHUNK = 4000
"""Rows per INSERT: PostgreSQL binds at most 65,535 parameters, and a row takes ten."""


def _known(enum: type[_Enum], value: object) -> _Enum | None:
    if not isinstance(value, str):
        return None
    try:
        return enum(value)
    except ValueError:
        return None


def _channels(values: Iterable[object]) -> frozenset[Channel]:
    return frozenset(c for c in (_known(Channel, v) for v in values) if c is not None)


def _notification_row(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.id,
        "recipient_id": notification.recipient_id.value,
        "kind": notification.kind.value,
        "actor_id": notification.actor_id.value if notification.actor_id else None,
        "subject_type": notification.subject.type,
        "subject_id": notification.subject.id,
        "source": notification.source,
        "channels": sorted(channel.value for channel in notification.channels),
        "data": dict(notification.data),
        "created_at": notification.created_at,
        "read_at": notification.read_at,
    }


def _notification(row: sa.RowMapping) -> Notification | None:
    kind = _known(NotificationKind, row["kind"])
    channels = _channels(row["channels"])
    if kind is None or not channels:
        return None
    return Notification(
        id=row["id"],
        recipient_id=UserId(row["recipient_id"]),
        kind=kind,
        actor_id=UserId(row["actor_id"]) if row["actor_id"] is not None else None,
        subject=Subject(type=row["subject_type"], id=row["subject_id"]),
        source=row["source"],
        channels=channels,
        created_at=row["created_at"],
        data=MappingProxyType({str(k): str(v) for k, v in row["data"].items()}),
        read_at=row["read_at"],
    )


def _notifications(rows: Iterable[sa.RowMapping]) -> list[Notification]:
    return [n for n in (_notification(row) for row in rows) if n is not None]


def _listed(recipient: UserId, *, unread_only: bool) -> list[sa.ColumnElement[bool]]:
    """The conditions of the recipient's list, written as the partial indexes' predicates."""
    conditions = [
        notifications_table.c.recipient_id == recipient.value,
        notifications_table.c.in_app,
    ]
    if unread_only:
        conditions.append(notifications_table.c.read_at.is_(None))
    return conditions


class SqlNotificationRepository:
    """The `NotificationRepository` port on PostgreSQL.

    Uniqueness per recipient and source is the table's unique constraint, so two workers
    storing the same event's notifications concurrently still store each one once. Every
    statement that takes a recipient filters on it; the in-app lists and counts are served
    by partial indexes on in-app rows (and on unread in-app rows).
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add_new(self, notifications: Sequence[Notification]) -> Sequence[Notification]:
        """One INSERT ... ON CONFLICT DO NOTHING RETURNING id for the batch.

        Repeats of a recipient and source within the batch are dropped first (the first one
        stays); what the insert returns says which of the rest were new. A batch beyond
        `INSERT_CHUNK` rows takes one statement per chunk.
        """
        unique: dict[tuple[UserId, str], Notification] = {}
        for notification in notifications:
            unique.setdefault((notification.recipient_id, notification.source), notification)
        batch = list(unique.values())
        stored: set[UUID] = set()
        for start in range(0, len(batch), INSERT_CHUNK):
            rows = [_notification_row(n) for n in batch[start : start + INSERT_CHUNK]]
            statement = (
                pg_insert(notifications_table)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["recipient_id", "source"])
                .returning(notifications_table.c.id)
            )
            stored.update((await self._connection.execute(statement)).scalars())
        return [n for n in batch if n.id in stored]

    async def get(self, notification_id: UUID) -> Notification | None:
        """Load by id, whoever it is for."""
        statement = sa.select(notifications_table).where(
            notifications_table.c.id == notification_id
        )
        row = (await self._connection.execute(statement)).mappings().first()
        return _notification(row) if row else None

    async def for_source(self, source: str) -> Sequence[Notification]:
        """Every notification of the source, by recipient id (the unique index's order)."""
        statement = (
            sa.select(notifications_table)
            .where(notifications_table.c.source == source)
            .order_by(notifications_table.c.recipient_id)
        )
        return _notifications((await self._connection.execute(statement)).mappings())

    async def recipients_told_since(
        self,
        kind: NotificationKind,
        actor: UserId,
        recipients: Sequence[UserId],
        *,
        since: datetime,
    ) -> frozenset[UserId]:
        """One SELECT DISTINCT over the actor's notifications (the actor_id index)."""
        if not recipients:
            return frozenset()
        table = notifications_table
        statement = (
            sa.select(table.c.recipient_id)
            .distinct()
            .where(
                table.c.actor_id == actor.value,
                table.c.kind == kind.value,
                table.c.recipient_id.in_([recipient.value for recipient in recipients]),
                table.c.created_at >= since,
            )
        )
        return frozenset(UserId(value) for value in await self._connection.scalars(statement))

    async def mark_read(
        self, recipient: UserId, notification_ids: Sequence[UUID], *, at: datetime
    ) -> Sequence[Notification]:
        """One UPDATE ... RETURNING on the recipient's rows among the ids.

        A notification already read keeps the time it was first read. The result follows
        the order of `notification_ids`, each id once.
        """
        wanted = list(dict.fromkeys(notification_ids))
        if not wanted:
            return []
        statement = (
            sa.update(notifications_table)
            .where(
                notifications_table.c.recipient_id == recipient.value,
                notifications_table.c.id.in_(wanted),
            )
            .values(read_at=sa.func.coalesce(notifications_table.c.read_at, at))
            .returning(*notifications_table.c)
        )
        found = {
            n.id: n for n in _notifications((await self._connection.execute(statement)).mappings())
        }
        return [found[i] for i in wanted if i in found]

    async def mark_all_read(self, recipient: UserId, *, at: datetime) -> int:
        """Mark the recipient's unread in-app notifications read; return how many.

        Only in-app ones: the others are in no list and no count, so the number returned is
        the unread count the recipient saw.
        """
        statement = (
            sa.update(notifications_table)
            .where(*_listed(recipient, unread_only=True))
            .values(read_at=at)
        )
        return (await self._connection.execute(statement)).rowcount

    async def list_for(
        self, recipient: UserId, *, unread_only: bool, limit: int, offset: int
    ) -> NotificationPage:
        """One statement: the count of every match outer-joined to the page.

        So a page past the end is still one row, carrying the total.
        """
        conditions = _listed(recipient, unread_only=unread_only)
        counted = (
            sa.select(sa.func.count().label("total"))
            .select_from(notifications_table)
            .where(*conditions)
            .subquery("counted")
        )
        page = (
            sa.select(notifications_table)
            .where(*conditions)
            .order_by(notifications_table.c.created_at.desc(), notifications_table.c.id.desc())
            .limit(limit)
            .offset(offset)
            .subquery("page")
        )
        statement = (
            sa.select(page, counted.c.total)
            .select_from(counted.outerjoin(page, sa.true()))
            .order_by(page.c.created_at.desc(), page.c.id.desc())
        )
        rows = (await self._connection.execute(statement)).mappings().all()
        return NotificationPage(
            items=_notifications(row for row in rows if row["id"] is not None),
            total=int(rows[0]["total"]),
        )

    async def unread_count(self, recipient: UserId) -> int:
        """Count the recipient's unread in-app notifications (the unread partial index)."""
        statement = (
            sa.select(sa.func.count())
            .select_from(notifications_table)
            .where(*_listed(recipient, unread_only=True))
        )
        return int(await self._connection.scalar(statement) or 0)

    async def purge_created_before(self, cutoff: datetime, *, limit: int) -> int:
        """One DELETE of the oldest batch; deliveries go with them (ON DELETE CASCADE)."""
        table = notifications_table
        oldest = (
            sa.select(table.c.id)
            .where(table.c.created_at < cutoff)
            .order_by(table.c.created_at)
            .limit(limit)
            .scalar_subquery()
        )
        result = await self._connection.execute(sa.delete(table).where(table.c.id.in_(oldest)))
        return int(result.rowcount or 0)


def _preferences(choices: object) -> NotificationPreferences:
    """Preferences from the stored JSON; kinds and channels this version lacks are left out."""
    chosen: dict[NotificationKind, frozenset[Channel]] = {}
    if isinstance(choices, Mapping):
        for name, channels in choices.items():
            kind = _known(NotificationKind, name)
            if kind is not None and isinstance(channels, list):
                chosen[kind] = _channels(channels)
    return NotificationPreferences(MappingProxyType(chosen))


class SqlNotificationPreferencesRepository:
    """The `NotificationPreferencesRepository` port: one JSONB row per user who chose.

    Only the kinds the user chose are stored (kind to its channels, sorted), so a change
    to the defaults reaches every kind a user left alone.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def get(self, user_id: UserId, *, for_update: bool = False) -> NotificationPreferences:
        """The stored choices, or the defaults; locked with FOR UPDATE when asked.

        To lock, a user who never chose gets an empty row (the defaults) first, so there is
        a row to lock: two first changes that race then queue like any others.
        """
        statement = sa.select(notification_preferences.c.choices).where(
            notification_preferences.c.user_id == user_id.value
        )
        if for_update:
            await self._connection.execute(
                pg_insert(notification_preferences)
                .values(user_id=user_id.value, choices={}, updated_at=sa.func.now())
                .on_conflict_do_nothing()
            )
            statement = statement.with_for_update()
        return _preferences(await self._connection.scalar(statement))

    async def get_many(
        self, user_ids: Sequence[UserId]
    ) -> Mapping[UserId, NotificationPreferences]:
        """One SELECT for every user; those without a row get the defaults."""
        if not user_ids:
            return {}
        statement = sa.select(
            notification_preferences.c.user_id, notification_preferences.c.choices
        ).where(notification_preferences.c.user_id.in_({u.value for u in user_ids}))
        stored = {
            UserId(user_id): _preferences(choices)
            for user_id, choices in await self._connection.execute(statement)
        }
        return {u: stored.get(u, NotificationPreferences()) for u in user_ids}

    async def save(self, user_id: UserId, preferences: NotificationPreferences) -> None:
        """Insert or replace the user's row, stamped with the transaction's time."""
        choices = {
            kind.value: sorted(channel.value for channel in channels)
            for kind, channels in preferences.chosen.items()
        }
        statement = pg_insert(notification_preferences).values(
            user_id=user_id.value, choices=choices, updated_at=sa.func.now()
        )
        statement = statement.on_conflict_do_update(
            index_elements=[notification_preferences.c.user_id],
            set_={"choices": statement.excluded.choices, "updated_at": sa.func.now()},
        )
        await self._connection.execute(statement)


def _delivery(row: sa.RowMapping) -> DeliveryRecord | None:
    channel = _known(Channel, row["channel"])
    status = _known(DeliveryStatus, row["status"])
    if channel is None or status is None:
        return None
    return DeliveryRecord(
        notification_id=row["notification_id"],
        channel=channel,
        status=status,
        attempts=row["attempts"],
        updated_at=row["updated_at"],
        detail=row["detail"],
    )


_PENDING_CHUNK = 4_000
"""Rows per insert: five parameters each, well under PostgreSQL's 65,535."""


class SqlDeliveryLog:
    """The `DeliveryLog` port: one row per notification and channel, upserted."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def get(self, notification_id: UUID, channel: Channel) -> DeliveryRecord | None:
        """The row for this notification and channel."""
        statement = sa.select(notification_deliveries).where(
            notification_deliveries.c.notification_id == notification_id,
            notification_deliveries.c.channel == channel.value,
        )
        row = (await self._connection.execute(statement)).mappings().first()
        return _delivery(row) if row else None

    async def record(
        self,
        notification_id: UUID,
        channel: Channel,
        status: DeliveryStatus,
        *,
        at: datetime,
        detail: str | None = None,
    ) -> None:
        """One upsert: the first try inserts attempt 1, later ones overwrite and add one.

        A detail longer than `DELIVERY_DETAIL_MAX` is cut to fit.
        """
        statement = pg_insert(notification_deliveries).values(
            notification_id=notification_id,
            channel=channel.value,
            status=status.value,
            attempts=1,
            detail=detail[:DELIVERY_DETAIL_MAX] if detail is not None else None,
            updated_at=at,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[
                notification_deliveries.c.notification_id,
                notification_deliveries.c.channel,
            ],
            set_={
                "status": statement.excluded.status,
                "attempts": notification_deliveries.c.attempts + 1,
                "detail": statement.excluded.detail,
                "updated_at": statement.excluded.updated_at,
            },
        )
        await self._connection.execute(statement)

    async def add_pending(
        self, deliveries: Sequence[tuple[UUID, Channel]], *, at: datetime
    ) -> None:
        """One insert per chunk; rows already there are left as they are."""
        rows = [
            {
                "notification_id": notification_id,
                "channel": channel.value,
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "updated_at": at,
            }
            for notification_id, channel in deliveries
        ]
        for start in range(0, len(rows), _PENDING_CHUNK):
            statement = (
                pg_insert(notification_deliveries)
                .values(rows[start : start + _PENDING_CHUNK])
                .on_conflict_do_nothing(
                    index_elements=[
                        notification_deliveries.c.notification_id,
                        notification_deliveries.c.channel,
                    ]
                )
            )
            await self._connection.execute(statement)

    async def claim(
        self, notification_id: UUID, channel: Channel, *, now: datetime, stale_before: datetime
    ) -> bool:
        """One upsert whose update only applies to a claimable row; a row back means claimed."""
        table = notification_deliveries
        statement = pg_insert(table).values(
            notification_id=notification_id,
            channel=channel.value,
            status=DeliveryStatus.SENDING.value,
            attempts=0,
            updated_at=now,
        )
        claiming = statement.on_conflict_do_update(
            index_elements=[table.c.notification_id, table.c.channel],
            set_={"status": DeliveryStatus.SENDING.value, "updated_at": now},
            where=sa.or_(
                table.c.status.in_([DeliveryStatus.PENDING.value, DeliveryStatus.FAILED.value]),
                sa.and_(
                    table.c.status == DeliveryStatus.SENDING.value,
                    table.c.updated_at < stale_before,
                ),
            ),
        ).returning(table.c.notification_id)
        return (await self._connection.execute(claiming)).first() is not None

    async def claim_stale_pending(
        self, *, older_than: datetime, now: datetime, limit: int
    ) -> Sequence[tuple[UUID, Channel]]:
        """UPDATE ... FROM (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING, in one statement."""
        table = notification_deliveries
        stale = (
            sa.select(table.c.notification_id, table.c.channel)
            .where(
                table.c.status.in_([DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value]),
                table.c.updated_at < older_than,
            )
            .order_by(table.c.updated_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .subquery()
        )
        statement = (
            sa.update(table)
            .where(
                table.c.notification_id == stale.c.notification_id,
                table.c.channel == stale.c.channel,
            )
            .values(status=DeliveryStatus.PENDING.value, updated_at=now)
            .returning(table.c.notification_id, table.c.channel)
        )
        rows = (await self._connection.execute(statement)).all()
        claimed = []
        for notification_id, channel_name in rows:
            channel = _known(Channel, channel_name)
            if channel is not None:
                claimed.append((notification_id, channel))
        return claimed

    async def for_notification(self, notification_id: UUID) -> Sequence[DeliveryRecord]:
        """Every channel's row for the notification, by channel."""
        statement = (
            sa.select(notification_deliveries)
            .where(notification_deliveries.c.notification_id == notification_id)
            .order_by(notification_deliveries.c.channel)
        )
        rows = (await self._connection.execute(statement)).mappings()
        return [d for d in (_delivery(row) for row in rows) if d is not None]


class SqlPushSubscriptionRepository:
    """The `PushSubscriptionRepository` port: rows keyed by endpoint."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, subscription: PushSubscription) -> None:
        """Upsert by endpoint: a browser subscribing anew replaces the whole row, owner too."""
        statement = pg_insert(push_subscriptions).values(
            endpoint=subscription.endpoint,
            user_id=subscription.user_id.value,
            p256dh=subscription.p256dh,
            auth=subscription.auth,
            created_at=subscription.created_at,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[push_subscriptions.c.endpoint],
            set_={
                "user_id": statement.excluded.user_id,
                "p256dh": statement.excluded.p256dh,
                "auth": statement.excluded.auth,
                "created_at": statement.excluded.created_at,
            },
        )
        await self._connection.execute(statement)

    async def remove(self, user_id: UserId, endpoint: str) -> bool:
        """Delete the row if it is the user's; True when one went."""
        statement = (
            sa.delete(push_subscriptions)
            .where(
                push_subscriptions.c.endpoint == endpoint,
                push_subscriptions.c.user_id == user_id.value,
            )
            .returning(push_subscriptions.c.endpoint)
        )
        return (await self._connection.execute(statement)).first() is not None

    async def remove_endpoint(self, endpoint: str) -> None:
        """Delete the row at this endpoint, if any."""
        await self._connection.execute(
            sa.delete(push_subscriptions).where(push_subscriptions.c.endpoint == endpoint)
        )

    async def for_user(self, user_id: UserId) -> Sequence[PushSubscription]:
        """The user's rows, oldest first, ties by endpoint."""
        statement = (
            sa.select(push_subscriptions)
            .where(push_subscriptions.c.user_id == user_id.value)
            .order_by(push_subscriptions.c.created_at, push_subscriptions.c.endpoint)
        )
        return [
            PushSubscription(
                user_id=UserId(row["user_id"]),
                endpoint=row["endpoint"],
                p256dh=row["p256dh"],
                auth=row["auth"],
                created_at=row["created_at"],
            )
            for row in (await self._connection.execute(statement)).mappings()
        ]


class SqlPhoneVerificationRepository:
    """The `PhoneVerificationRepository` port: one row per user."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def get(self, user_id: UserId, *, for_update: bool = False) -> PhoneVerification | None:
        """The user's row, as it was saved; locked with FOR UPDATE when asked."""
        statement = sa.select(phone_numbers).where(phone_numbers.c.user_id == user_id.value)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._connection.execute(statement)).mappings().first()
        if row is None:
            return None
        return PhoneVerification(
            user_id=UserId(row["user_id"]),
            number=PhoneNumber(row["number"]),
            code_hash=row["code_hash"],
            code_expires_at=row["code_expires_at"],
            attempts_left=row["attempts_left"],
            verified_at=row["verified_at"],
        )

    async def save(self, verification: PhoneVerification) -> None:
        """Upsert the user's row with every field."""
        values = {
            "number": verification.number.value,
            "code_hash": verification.code_hash,
            "code_expires_at": verification.code_expires_at,
            "attempts_left": verification.attempts_left,
            "verified_at": verification.verified_at,
        }
        statement = (
            pg_insert(phone_numbers)
            .values(user_id=verification.user_id.value, **values)
            .on_conflict_do_update(index_elements=[phone_numbers.c.user_id], set_=values)
        )
        await self._connection.execute(statement)

    async def remove(self, user_id: UserId) -> bool:
        """Delete the user's row; True when one went."""
        statement = (
            sa.delete(phone_numbers)
            .where(phone_numbers.c.user_id == user_id.value)
            .returning(phone_numbers.c.user_id)
        )
        return (await self._connection.execute(statement)).first() is not None


class SqlFollowerReader:
    """The `FollowerReader` port on the `follows` table, in keyset pages by follower id."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def followers(
        self, followee: UserId, *, after: UserId | None, limit: int
    ) -> Sequence[UserId]:
        """Followers of `followee` with an id above `after`, by id, at most `limit`."""
        statement = sa.select(follows.c.follower_id).where(follows.c.followee_id == followee.value)
        if after is not None:
            statement = statement.where(follows.c.follower_id > after.value)
        statement = statement.order_by(follows.c.follower_id).limit(limit)
        return [UserId(i) for i in (await self._connection.execute(statement)).scalars()]
