"""Security notices: the owner is told of every change that could take the account.

A notice goes to the address on file at the moment of the change, and its message is
built in the transaction that makes the change, so an attacker who changes the address
cannot redirect the notice about that very change. It is enqueued once that transaction
commits (a rolled-back change tells no one), as a templated email marked `security`:
preferences cannot switch it off, and it is capped per recipient at the higher, security
rate.
"""

from collections.abc import Mapping
from datetime import UTC, datetime

from application.common.ports.task_queue import TaskQueue
from application.common.ports.unit_of_work import UnitOfWork
from application.notifications.recipient_caps import masked_recipient
from application.notifications.send_templated_email import (
    SEND_TEMPLATED_EMAIL,
    SendTemplatedEmailCommand,
)
from domain.notifications.notification import Channel
from domain.users.user import User
from domain.users.values import Email

PASSWORD_CHANGED = "security_password_changed"  # noqa: S105 - a template name
PASSWORD_RESET = "security_password_reset"  # noqa: S105 - a template name
PHONE_CHANGED = "security_phone_changed"
EMAIL_CHANGED = "security_email_changed"
"""Carries the restore link; built by `OneTimeTokenMailer`, which issues that link."""


def notice_time(moment: datetime) -> str:
    """When the change happened, as the notice shows it: UTC, to the minute."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def masked_email(address: str) -> str:
    """Enough of an address for its owner to recognize it, not enough to harvest it."""
    return masked_recipient(Channel.EMAIL, address)


class SecurityNotices:
    """Schedules security notices to go out when the current transaction commits."""

    def __init__(self, queue: TaskQueue) -> None:
        self._queue = queue

    def password_changed(self, uow: UnitOfWork, user: User, *, to: Email, at: datetime) -> None:
        """Tell `to`, the address on file before this request changed anything."""
        context = {"changed_at": notice_time(at)}
        self.send_after_commit(uow, user, PASSWORD_CHANGED, context, to=to)

    def password_reset(self, uow: UnitOfWork, user: User, *, at: datetime) -> None:
        """Tell the account's address (as it is now) that a reset link was used."""
        self.send_after_commit(uow, user, PASSWORD_RESET, {"changed_at": notice_time(at)})

    def phone_number_changed(
        self, uow: UnitOfWork, user: User, *, number: str, at: datetime
    ) -> None:
        """Tell the account's address that a phone number was set on it."""
        context = {"changed_at": notice_time(at), "phone_ending": number[-2:]}
        self.send_after_commit(uow, user, PHONE_CHANGED, context)

    def send_after_commit(
        self,
        uow: UnitOfWork,
        user: User,
        template: str,
        context: Mapping[str, str],
        *,
        to: Email | None = None,
    ) -> None:
        """Build the notice now, for `to` or the address on file now; enqueue it after commit."""
        self.schedule(
            uow,
            SendTemplatedEmailCommand(
                to=str(user.email if to is None else to),
                template=template,
                context={"username": str(user.username), **context},
                security=True,
            ),
        )

    def schedule(self, uow: UnitOfWork, message: SendTemplatedEmailCommand) -> None:
        """Enqueue an already built message once the current transaction commits."""
        payload = message.as_payload()
        uow.after_commit(lambda: self._queue.enqueue(SEND_TEMPLATED_EMAIL, payload))
