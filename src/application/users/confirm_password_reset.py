"""Use case: set a new password with the token from a reset email."""

from dataclasses import dataclass, field

from application.audit.capture import audited
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.users.account_recovery import AccountRecovery
from application.users.ports import PasswordHasher
from application.users.security_notices import SecurityNotices
from domain.users.one_time_token import (
    LINKS_VOIDED_BY_ACCOUNT_CHANGES,
    OneTimeToken,
    TokenPurpose,
)
from domain.users.user import User
from domain.users.values import Password


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfirmPasswordResetCommand:
    """The token from the email and the new password."""

    token: str = field(repr=False)
    password: str = field(repr=False)


@audited("user.password_reset", target="user")
class ConfirmPasswordReset:
    """Replace the password and end every session.

    Rules:
    - The new password must meet the policy; it is checked before the token is spent.
    - The token is single-use and expires; any bad token gets the same error,
      `OneTimeTokenNotFoundError`.
    - Every session of the account is revoked, and its live channels closed: whoever had
      it is signed out.
    - Every other reset and verification link of the account stops working too.
    - The reset proves the address the link was mailed to: it marks the account's email
      verified only if that is still the account's address.
    - The account's address is told, in a notice built in this transaction.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        recovery: AccountRecovery,
        hasher: PasswordHasher,
        notices: SecurityNotices,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._recovery = recovery
        self._hasher = hasher
        self._notices = notices
        self._clock = clock

    async def __call__(self, command: ConfirmPasswordResetCommand) -> None:
        """Consume the token, change the password, revoke the sessions: one transaction."""
        password = Password.parse(command.password)
        now = self._clock.now()

        async def reset(token: OneTimeToken, user: User) -> None:
            user.change_password_hash(await self._hasher.hash(password), now=now)
            if token.proves(user.email):
                user.verify_email(now=now)

        async with self._uow:
            user = await self._recovery.recover(
                self._uow,
                command.token,
                TokenPurpose.RESET_PASSWORD,
                change=reset,
                voids=LINKS_VOIDED_BY_ACCOUNT_CHANGES,
                reason="password reset",
                now=now,
            )
            self._notices.password_reset(self._uow, user, at=now)
            await self._uow.commit()
