"""Use case: take back the address an email change took, with the link mailed to it."""

from dataclasses import dataclass, field

from application.audit.capture import audited
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.users.account_recovery import AccountRecovery
from application.users.errors import EmailTakenError
from application.users.ports import PasswordHasher, UserRepository
from domain.users.one_time_token import OneTimeToken, TokenPurpose
from domain.users.user import User
from domain.users.values import Password


@dataclass(frozen=True, slots=True, kw_only=True)
class RestoreEmailCommand:
    """The token from the email-changed notice, and a new password."""

    token: str = field(repr=False)
    password: str = field(repr=False)


@audited("user.email_restore", target="user")
class RestoreEmail:
    """Undo an email change the owner did not make.

    Rules:
    - The token is single-use and expires (EMAIL_RESTORE_TTL_SECONDS, days rather than
      hours, since the owner may not read the old mailbox at once); any bad token gets
      the same error as a bad reset token, `OneTimeTokenNotFoundError`.
    - The account gets back the address the link was mailed to, verified (the link
      proves it), and the new password: whoever changed the address may know the old one.
      The password must meet the policy; it is checked before the token is spent.
    - Every session ends, with its live channels, and every other one-time link of the
      account (restore links included) stops working.
    - If another account has taken the address meanwhile, `EmailTakenError`, and the token stays
      unspent so the owner can retry once that is sorted out.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        users: UserRepository,
        recovery: AccountRecovery,
        hasher: PasswordHasher,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._users = users
        self._recovery = recovery
        self._hasher = hasher
        self._clock = clock

    async def __call__(self, command: RestoreEmailCommand) -> None:
        """Consume the token, restore the address, replace the password, end the sessions."""
        password = Password.parse(command.password)
        now = self._clock.now()

        async def restore(token: OneTimeToken, user: User) -> None:
            assert token.email is not None  # noqa: S101 - `redeem` refuses a link naming none
            holder = await self._users.get_by_email(token.email)
            if holder is not None and holder.id != user.id:
                raise EmailTakenError
            user.restore_email(
                token.email, password_hash=await self._hasher.hash(password), now=now
            )

        async with self._uow:
            await self._recovery.recover(
                self._uow,
                command.token,
                TokenPurpose.RESTORE_EMAIL,
                change=restore,
                voids=tuple(TokenPurpose),
                reason="email restored",
                now=now,
            )
            await self._uow.commit()
