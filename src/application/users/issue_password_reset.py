"""Job: issue a reset token and mail it, if the address has an account."""

from dataclasses import dataclass

from application.audit.capture import audited, identify_target
from application.common.ports.unit_of_work import UnitOfWork
from application.users.one_time_tokens import OneTimeTokenMailer
from application.users.ports import UserRepository
from domain.users.one_time_token import TokenPurpose
from domain.users.values import Email

ISSUE_PASSWORD_RESET = "issue_password_reset"  # noqa: S105 - a task name
"""The task name under which this job is enqueued."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuePasswordResetCommand:
    """The normalized address a reset was asked for."""

    email: str


@audited("user.password_reset_issue", target="user")
class IssuePasswordReset:
    """Look the address up and, if it has an account that is not banned, mail a link.

    Rules:
    - Runs as a job, after the request has answered, so nothing about whether the account
      exists can be read from the request's timing.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        users: UserRepository,
        token_mailer: OneTimeTokenMailer,
    ) -> None:
        self._uow = uow
        self._users = users
        self._token_mailer = token_mailer

    async def __call__(self, command: IssuePasswordResetCommand) -> None:
        """Maybe issue the token; the email follows as a job of its own."""
        async with self._uow:
            user = await self._users.get_by_email(Email(command.email))
            if user is None or user.is_banned:
                return
            identify_target(user.id)
            message = await self._token_mailer.issue(user, TokenPurpose.RESET_PASSWORD)
            await self._uow.commit()
        await self._token_mailer.send(message)
