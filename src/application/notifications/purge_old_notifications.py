"""Use case: delete notifications older than the retention period."""

from dataclasses import dataclass
from datetime import timedelta

from application.audit.capture import audited
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.notifications.ports import NotificationRepository

PURGE_OLD_NOTIFICATIONS = "purge_old_notifications"
"""The periodic job's name."""

PURGE_BATCH = 5_000
"""Notifications deleted per transaction, so a large purge never holds long locks."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PurgeOldNotificationsCommand:
    """Keep notifications (read or not) for `retention`."""

    retention: timedelta


@audited("notification.purge", target="notification")
class PurgeOldNotifications:
    """Delete old notifications and their delivery records, a batch per transaction.

    Lists and counts only ever show what is kept; a notification older than the retention
    period is gone from them, read or not.
    """

    def __init__(
        self, *, uow: UnitOfWork, notifications: NotificationRepository, clock: Clock
    ) -> None:
        self._uow = uow
        self._notifications = notifications
        self._clock = clock

    async def __call__(self, command: PurgeOldNotificationsCommand) -> int:
        """Purge until nothing older is left; return how many went."""
        cutoff = self._clock.now() - command.retention
        purged = 0
        while True:
            async with self._uow:
                batch = await self._notifications.purge_created_before(cutoff, limit=PURGE_BATCH)
                await self._uow.commit()
            purged += batch
            if batch < PURGE_BATCH:
                return purged
