"""Use case: prove ownership of an email address with the token mailed to it."""

from dataclasses import dataclass, field

from application.audit.capture import audited, identify_target
from application.common.ports.clock import Clock
from application.common.ports.opaque_tokens import OpaqueTokens
from application.common.ports.unit_of_work import UnitOfWork
from application.users.one_time_tokens import redeem
from application.users.ports import OneTimeTokenRepository, UserRepository
from domain.users.one_time_token import TokenPurpose


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyEmailCommand:
    """The token from the email."""

    token: str = field(repr=False)


@audited("user.email_verify", target="user")
class VerifyEmail:
    """Mark the account's email as verified.

    Rules:
    - The token is single-use and expires; a used, expired, unknown or reset token is
      refused with the same error, `OneTimeTokenNotFoundError`.
    - The token proves only the address it was mailed to: if the account's address has
      changed since, it is refused the same way (`redeem`), so a link mailed to one address
      cannot verify another.
    - Verifying an already verified email is harmless.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        users: UserRepository,
        tokens: OneTimeTokenRepository,
        secrets: OpaqueTokens,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._users = users
        self._tokens = tokens
        self._secrets = secrets
        self._clock = clock

    async def __call__(self, command: VerifyEmailCommand) -> None:
        """Consume the token and verify."""
        now = self._clock.now()
        async with self._uow:
            _, user = await redeem(
                command.token,
                TokenPurpose.VERIFY_EMAIL,
                tokens=self._tokens,
                users=self._users,
                secrets=self._secrets,
                now=now,
            )
            identify_target(user.id)
            user.verify_email(now=now)
            await self._users.save(user)
            self._uow.track(user)
            await self._uow.commit()
