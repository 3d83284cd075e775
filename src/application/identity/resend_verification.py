"""Use case: mail a fresh verification link to the caller's address."""

from dataclasses import dataclass

from application.common.errors import AuthenticationRequiredError
from application.common.identity import Identity
from application.identity.one_time_tokens import OneTimeTokenMailer
from application.ports.persistence import UnitOfWork, UserRepository
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
        token_mailer: OneTimeTokenMailer,
    ) -> None:
        self._uow = uow
        self._users = users
        self._token_mailer = token_mailer

    async def __call__(self, command: ResendVerificationCommand) -> None:
        """Issue and mail a link unless the address is verified."""
        async with self._uow:
            user = await self._users.get(command.actor.user_id)
            if user is None:
                raise AuthenticationRequiredError("is invalid")
            if user.email_verified_at is not None:
                return
            message = await self._token_mailer.issue(user, TokenPurpose.VERIFY_EMAIL)
            await self._uow.commit()
        await self._token_mailer.send(message)
