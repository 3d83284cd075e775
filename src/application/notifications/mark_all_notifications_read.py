"""Use case: mark every notification of the caller read."""

from application.audit.capture import audited
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.notifications.ports import NotificationRepository
from domain.users.values import UserId


@audited("notification.mark_all_read", target="notification")
class MarkAllNotificationsRead:
    """Mark all of the caller's unread notifications read; return how many there were."""

    def __init__(
        self, uow: UnitOfWork, notifications: NotificationRepository, clock: Clock
    ) -> None:
        self._uow = uow
        self._notifications = notifications
        self._clock = clock

    async def __call__(self, recipient: UserId) -> int:
        """How many were marked."""
        async with self._uow:
            marked = await self._notifications.mark_all_read(recipient, at=self._clock.now())
            await self._uow.commit()
        return marked
