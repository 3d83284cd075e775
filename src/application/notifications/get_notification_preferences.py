"""Use case: the caller's notification preferences."""

from application.notifications.ports import NotificationPreferencesRepository
from domain.notifications.preferences import NotificationPreferences
from domain.users.values import UserId


class GetNotificationPreferences:
    """Read the caller's preferences; the defaults when they never chose."""

    def __init__(self, preferences: NotificationPreferencesRepository) -> None:
        self._preferences = preferences

    async def __call__(self, user_id: UserId) -> NotificationPreferences:
        """Every kind's channels."""
        return await self._preferences.get(user_id)
