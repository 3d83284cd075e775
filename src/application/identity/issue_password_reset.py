"""Job: issue a reset token and mail it, if the address has an account."""

from dataclasses import dataclass

from application.identity.one_time_tokens import OneTimeTokenPolicy, issue_token, send_after_commit
from application.ports.messaging import TaskQueue
from application.ports.persistence import OneTimeTokenRepository, UnitOfWork, UserRepository
from application.ports.security import SecretTokens
from application.ports.system import Clock
from domain.users.one_time_token import TokenPurpose
from domain.users.values import Email

ISSUE_PASSWORD_RESET = "issue_password_reset"  # noqa: S105 - a task name
"""The task name under which this job is enqueued."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuePasswordResetCommand:
    """The normalized address a reset was asked for."""

    email: str


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
        tokens: OneTimeTokenRepository,
        secrets: SecretTokens,
        queue: TaskQueue,
        policy: OneTimeTokenPolicy,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._users = users
        self._tokens = tokens
        self._secrets = secrets
        self._queue = queue
        self._policy = policy
        self._clock = clock

    async def __call__(self, command: IssuePasswordResetCommand) -> None:
        """Maybe issue the token; the email follows as a job of its own."""
        async with self._uow:
            user = await self._users.get_by_email(Email(command.email))
            if user is None or user.is_banned:
                return
            message = await issue_token(
                user=user,
                purpose=TokenPurpose.RESET_PASSWORD,
                tokens=self._tokens,
                secrets=self._secrets,
                policy=self._policy,
                clock=self._clock,
            )
            await self._uow.commit()
        await send_after_commit(self._queue, message)
