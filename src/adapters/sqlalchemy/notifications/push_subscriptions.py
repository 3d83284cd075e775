"""The `PushSubscriptionRepository` port in PostgreSQL: rows keyed by endpoint."""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sqlalchemy.tables import push_subscriptions
from application.notifications.ports import PushSubscriptionRepository
from domain.notifications.push import PushSubscription
from domain.users.values import UserId


class SqlPushSubscriptionRepository(PushSubscriptionRepository):
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
