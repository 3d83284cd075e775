"""Use case: how many of the caller's notifications are unread."""

from application.notifications.ports import NotificationRepository
from domain.users.values import UserId


class CountUnreadNotifications:
    """Count the caller's unread in-app notifications (a badge)."""

    def __init__(self, notifications: NotificationRepository) -> None:
        self._notifications = notifications

    async def __call__(self, recipient: UserId) -> int:
        """The count."""
        return await self._notifications.unread_count(recipient)
