"""Use case: prove ownership of an email address with the token mailed to it."""

from dataclasses import dataclass, field

from application.common.errors import InvalidInputError
from application.ports.persistence import OneTimeTokenRepository, UnitOfWork, UserRepository
from application.ports.security import SecretTokens
from application.ports.system import Clock
from domain.users.one_time_token import TokenPurpose

INVALID_TOKEN = "is invalid or has expired"  # noqa: S105 - a message, not a secret


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyEmailCommand:
    """The token from the email."""

    token: str = field(repr=False)


class VerifyEmail:
    """Mark the account's email as verified.

    Rules:
    - The token is single-use and expires; a used, expired, unknown or reset token is
      refused with the same answer.
    - Verifying an already verified email is harmless.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        users: UserRepository,
        tokens: OneTimeTokenRepository,
        secrets: SecretTokens,
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
            token = await self._tokens.consume(
                self._secrets.fingerprint(command.token), TokenPurpose.VERIFY_EMAIL, now=now
            )
            user = await self._users.get(token.user_id) if token else None
            if user is None:
                raise InvalidInputError(INVALID_TOKEN, field="token")
            user.verify_email(now=now)
            await self._users.save(user)
            self._uow.track(user)
            await self._uow.commit()
