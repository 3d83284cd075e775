"""The `NotificationPreferencesRepository` port in PostgreSQL: one JSONB row per user."""

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sqlalchemy.notifications.rows import known, known_channels
from adapters.sqlalchemy.tables import notification_preferences
from application.notifications.ports import NotificationPreferencesRepository
from domain.notifications.notification import Channel, NotificationKind
from domain.notifications.preferences import NotificationPreferences
from domain.users.values import UserId


def _preferences(choices: object) -> NotificationPreferences:
    """Preferences from the stored JSON; kinds and channels this version lacks are left out."""
    chosen: dict[NotificationKind, frozenset[Channel]] = {}
    if isinstance(choices, Mapping):
        for name, channels in choices.items():
            kind = known(NotificationKind, name)
            if kind is not None and isinstance(channels, list):
                chosen[kind] = known_channels(channels)
    return NotificationPreferences(MappingProxyType(chosen))


class SqlNotificationPreferencesRepository(NotificationPreferencesRepository):
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
