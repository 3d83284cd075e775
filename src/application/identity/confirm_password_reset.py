"""Use case: set a new password with the token from a reset email."""

from dataclasses import dataclass, field

from application.common.errors import InvalidInputError
from application.identity.verify_email import INVALID_TOKEN
from application.ports.persistence import (
    OneTimeTokenRepository,
    SessionRepository,
    UnitOfWork,
    UserRepository,
)
from application.ports.security import PasswordHasher, SecretTokens
from application.ports.system import Clock
from domain.users.one_time_token import TokenPurpose
from domain.users.values import Password


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfirmPasswordResetCommand:
    """The token from the email and the new password."""

    token: str = field(repr=False)
    password: str = field(repr=False)


class ConfirmPasswordReset:
    """Replace the password and end every session.

    Rules:
    - The new password must meet the policy; it is checked before the token is spent.
    - The token is single-use and expires; any bad token gets the same answer.
    - Every session of the account is revoked: whoever had it is signed out.
    - Every other reset link of the account stops working too.
    - Resetting the password also proves the email, so it counts as verified.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        users: UserRepository,
        sessions: SessionRepository,
        tokens: OneTimeTokenRepository,
        secrets: SecretTokens,
        hasher: PasswordHasher,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._users = users
        self._sessions = sessions
        self._tokens = tokens
        self._secrets = secrets
        self._hasher = hasher
        self._clock = clock

    async def __call__(self, command: ConfirmPasswordResetCommand) -> None:
        """Consume the token, change the password, revoke the sessions: one transaction."""
        password = Password.parse(command.password)
        now = self._clock.now()
        async with self._uow:
            token = await self._tokens.consume(
                self._secrets.fingerprint(command.token), TokenPurpose.RESET_PASSWORD, now=now
            )
            user = await self._users.get(token.user_id) if token else None
            if user is None:
                raise InvalidInputError(INVALID_TOKEN, field="token")
            await self._tokens.invalidate_all(user.id, TokenPurpose.RESET_PASSWORD, now=now)
            user.change_password_hash(await self._hasher.hash(password), now=now)
            user.verify_email(now=now)
            await self._users.save(user)
            await self._sessions.revoke_all_for_user(user.id, at=now, reason="password reset")
            self._uow.track(user)
            await self._uow.commit()
