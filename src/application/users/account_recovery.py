"""What the links that take an account back share: spending the link, then signing out everywhere.

A password reset and an email restore each prove the account's owner holds a mailbox; the
change they make is their own, but either may follow a takeover, so both then end every
session and void the account's other links.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime

from application.common.ports.opaque_tokens import OpaqueTokens
from application.common.ports.unit_of_work import UnitOfWork
from application.users.live_sessions import LiveSessionCloser
from application.users.one_time_tokens import redeem
from application.users.ports import OneTimeTokenRepository, SessionRepository, UserRepository
from domain.users.one_time_token import OneTimeToken, TokenPurpose
from domain.users.user import User

AccountChange = Callable[[OneTimeToken, User], Awaitable[None]]
"""What a recovery does to the account, given the spent token; it may raise to refuse."""


class AccountRecovery:
    """Takes an account back with a mailed link, in the caller's unit of work.

    Rules:
    - The link's token is spent, and its account read under a lock (see `redeem`).
    - The recovery's own change is made; if it raises, the unit of work rolls back, and
      the token stays unspent.
    - The account's links of the purposes named are voided, every session is revoked, and
      their live channels close once the unit of work commits.
    """

    def __init__(
        self,
        *,
        users: UserRepository,
        sessions: SessionRepository,
        tokens: OneTimeTokenRepository,
        secrets: OpaqueTokens,
        live_sessions: LiveSessionCloser,
    ) -> None:
        self._users = users
        self._sessions = sessions
        self._tokens = tokens
        self._secrets = secrets
        self._live_sessions = live_sessions

    async def recover(
        self,
        uow: UnitOfWork,
        token: str,
        purpose: TokenPurpose,
        *,
        change: AccountChange,
        voids: tuple[TokenPurpose, ...],
        reason: str,
        now: datetime,
    ) -> User:
        """Spend `token`, `change` the account, void its links, end its sessions for `reason`.

        Returns the account, tracked by `uow`, so its events are written with the change.
        """
        spent, user = await redeem(
            token, purpose, tokens=self._tokens, users=self._users, secrets=self._secrets, now=now
        )
        await change(spent, user)
        await self._tokens.invalidate_all(user.id, voids, now=now)
        await self._users.save(user)
        await self._sessions.revoke_all_for_user(user.id, at=now, reason=reason)
        self._live_sessions.end_after_commit(uow, user.id)
        uow.track(user)
        return user
