"""Use case: set a new password with the token from a reset email."""

from dataclasses import dataclass, field

from application.common.ports.clock import Clock
from application.common.ports.opaque_tokens import OpaqueTokens
from application.common.ports.unit_of_work import UnitOfWork
from application.users.live_sessions import LiveSessionCloser
from application.users.one_time_tokens import redeem
from application.users.ports import (
    OneTimeTokenRepository,
    PasswordHasher,
    SessionRepository,
    UserRepository,
)
from application.users.security_notices import SecurityNotices
from domain.users.one_time_token import LINKS_VOIDED_BY_ACCOUNT_CHANGES, TokenPurpose
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
        users: UserRepository,
        sessions: SessionRepository,
        tokens: OneTimeTokenRepository,
        secrets: OpaqueTokens,
        hasher: PasswordHasher,
        notices: SecurityNotices,
        live_sessions: LiveSessionCloser,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._users = users
        self._sessions = sessions
        self._tokens = tokens
        self._secrets = secrets
        self._hasher = hasher
        self._notices = notices
        self._live_sessions = live_sessions
        self._clock = clock

    async def __call__(self, command: ConfirmPasswordResetCommand) -> None:
        """Consume the token, change the password, revoke the sessions: one transaction."""
        password = Password.parse(command.password)
        now = self._clock.now()
        async with self._uow:
            token, user = await redeem(
                command.token,
                TokenPurpose.RESET_PASSWORD,
                tokens=self._tokens,
                users=self._users,
                secrets=self._secrets,
                now=now,
            )
            await self._tokens.invalidate_all(user.id, LINKS_VOIDED_BY_ACCOUNT_CHANGES, now=now)
            user.change_password_hash(await self._hasher.hash(password), now=now)
            if token.proves(user.email):
                user.verify_email(now=now)
            await self._users.save(user)
            await self._sessions.revoke_all_for_user(user.id, at=now, reason="password reset")
            self._live_sessions.end_after_commit(self._uow, user.id)
            self._notices.password_reset(self._uow, user, at=now)
            self._uow.track(user)
            await self._uow.commit()
