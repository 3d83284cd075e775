"""The `NotificationPreferencesRepository` port in memory: only the kinds each user chose."""

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from adapters.memory.database import InMemoryDatabase
from application.notifications.ports import NotificationPreferencesRepository
from domain.notifications.notification import Channel, NotificationKind
from domain.notifications.preferences import NotificationPreferences
from domain.users.values import UserId

NOTIFICATION_PREFERENCES = "notification_preferences"


class InMemoryNotificationPreferencesRepository(NotificationPreferencesRepository):
    """The `NotificationPreferencesRepository` port: only the kinds each user chose."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    @property
    def _rows(self) -> dict[UserId, dict[NotificationKind, frozenset[Channel]]]:
        return self._database.table(NOTIFICATION_PREFERENCES)

    async def get(
        self,
        user_id: UserId,
        *,
        for_update: bool = False,  # noqa: ARG002 - the unit of work already serializes
    ) -> NotificationPreferences:
        """The stored choices, or the defaults."""
        return NotificationPreferences(MappingProxyType(dict(self._rows.get(user_id, {}))))

    async def get_many(
        self, user_ids: Sequence[UserId]
    ) -> Mapping[UserId, NotificationPreferences]:
        """Each user's preferences; the defaults for those who never chose."""
        return {user_id: await self.get(user_id) for user_id in user_ids}

    async def save(self, user_id: UserId, preferences: NotificationPreferences) -> None:
        """Replace the user's choices."""
        self._rows[user_id] = dict(preferences.chosen)
