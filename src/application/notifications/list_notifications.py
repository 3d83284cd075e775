"""Use case: a page of the caller's notifications."""

from dataclasses import dataclass

from application.articles.pagination import PageRequest
from application.notifications.ports import NotificationPage, NotificationRepository
from domain.users.values import UserId


@dataclass(frozen=True, slots=True, kw_only=True)
class ListNotificationsCommand:
    """Whose notifications, which page, and whether only the unread ones."""

    recipient: UserId
    page: PageRequest
    unread_only: bool = False


class ListNotifications:
    """List the caller's in-app notifications, newest first; never anyone else's.

    Rules:
    - Only the unread ones, when asked.
    - The count covers every match, not just the page.
    """

    def __init__(self, notifications: NotificationRepository) -> None:
        self._notifications = notifications

    async def __call__(self, command: ListNotificationsCommand) -> NotificationPage:
        """One page and the total that match."""
        return await self._notifications.list_for(
            command.recipient,
            unread_only=command.unread_only,
            limit=command.page.limit,
            offset=command.page.offset,
        )
