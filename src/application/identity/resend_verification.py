"""Use case: mail a fresh verification link to the caller's address."""

from dataclasses import dataclass

from application.common.errors import AuthenticationRequiredError
from application.common.identity import Identity
from application.identity.one_time_tokens import OneTimeTokenPolicy, issue_token, send_after_commit
from application.ports.messaging import TaskQueue
from application.ports.persistence import OneTimeTokenRepository, UnitOfWork, UserRepository
from application.ports.security import SecretTokens
from application.ports.system import Clock
from domain.users.one_time_token import TokenPurpose


@dataclass(frozen=True, slots=True, kw_only=True)
class ResendVerificationCommand:
    """The caller."""

    actor: Identity


class ResendVerification:
    """Send another verification link.

    Rules:
    - Only to the caller's own, current address; an already verified one gets nothing.
    - Earlier links stay valid until they expire or one of them is used.
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

    async def __call__(self, command: ResendVerificationCommand) -> None:
        """Issue and mail a link unless the address is verified."""
        async with self._uow:
            user = await self._users.get(command.actor.user_id)
            if user is None:
                raise AuthenticationRequiredError("is invalid")
            if user.email_verified_at is not None:
                return
            message = await issue_token(
                user=user,
                purpose=TokenPurpose.VERIFY_EMAIL,
                tokens=self._tokens,
                secrets=self._secrets,
                policy=self._policy,
                clock=self._clock,
            )
            await self._uow.commit()
        await send_after_commit(self._queue, message)
