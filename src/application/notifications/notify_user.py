"""Use case: tell one user about something that happened to them."""

from collections.abc import Sequence
from dataclasses import dataclass

from application.audit.capture import not_audited
from application.common.ports.unit_of_work import UnitOfWork
from application.notifications.notification_factory import NotificationDraft, NotificationFactory
from domain.notifications.notification import Notification
from domain.users.values import UserId


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifyUserCommand:
    """Who is told, and what."""

    recipient: UserId
    draft: NotificationDraft


@not_audited(
    "a consequence, not an act: stores the notification an audited act's event calls"
    " for (a follow, a comment); that act's entry names who did it"
)
class NotifyUser:
    """Create one notification and schedule its deliveries.

    Rules:
    - The recipient's preferences pick the channels; with none, nothing is stored.
    - One notification per recipient and source: an event handled twice notifies once.
    - Nobody is notified of their own doing.
    """

    def __init__(self, uow: UnitOfWork, factory: NotificationFactory) -> None:
        self._uow = uow
        self._factory = factory

    async def __call__(self, command: NotifyUserCommand) -> Sequence[Notification]:
        """Store the notification (if new and wanted); return what was stored."""
        async with self._uow:
            stored = await self._factory.create(command.draft, [command.recipient])
            await self._uow.commit()
        return stored
