"""Use case: mark some of the caller's notifications read."""

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from application.audit.capture import audited
from application.common.errors import InvalidInputError, NotFoundError
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.notifications.ports import NotificationRepository
from domain.notifications.notification import Notification
from domain.users.values import UserId

MAX_IDS = 100
"""How many notifications one call may mark, like the largest page."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkNotificationsReadCommand:
    """Whose, and which; `require_all` makes a missing id `NotFoundError` (mark by URL)."""

    recipient: UserId
    notification_ids: Sequence[UUID]
    require_all: bool = False


def _only_id(command: MarkNotificationsReadCommand) -> UUID | None:
    """The audit target: the notification, when the call names exactly one."""
    ids = set(command.notification_ids)
    return next(iter(ids)) if len(ids) == 1 else None


@audited("notification.mark_read", target="notification", target_id=_only_id)
class MarkNotificationsRead:
    """Mark notifications read.

    Rules:
    - Only the caller's own notifications are touched. Someone else's id is treated as
      one that does not exist, so ids cannot be probed: marking one by its id, either is
      `NotFoundError`.
    - Marking a read notification again keeps its first read time.
    - At most 100 ids per call.
    """

    def __init__(
        self, uow: UnitOfWork, notifications: NotificationRepository, clock: Clock
    ) -> None:
        self._uow = uow
        self._notifications = notifications
        self._clock = clock

    async def __call__(self, command: MarkNotificationsReadCommand) -> Sequence[Notification]:
        """The notifications found, as they now are."""
        ids = list(dict.fromkeys(command.notification_ids))
        if len(ids) > MAX_IDS:
            raise InvalidInputError(f"may hold at most {MAX_IDS} ids", field="ids")
        if not ids:
            return []
        async with self._uow:
            found = await self._notifications.mark_read(
                command.recipient, ids, at=self._clock.now()
            )
            if command.require_all and len(found) < len(ids):
                raise NotFoundError("not found", field="notification")
            await self._uow.commit()
        return found
