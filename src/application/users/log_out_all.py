"""Use case: end every session of the caller."""

from dataclasses import dataclass

from application.audit.capture import audited
from application.common.identity import Identity
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.users.live_sessions import LiveSessionCloser
from application.users.ports import OneTimeTokenRepository, SessionRepository
from domain.users.one_time_token import LINKS_VOIDED_BY_ACCOUNT_CHANGES


@dataclass(frozen=True, slots=True, kw_only=True)
class LogOutAllCommand:
    """The caller."""

    actor: Identity


@audited("user.logout_all", target="user", target_id=lambda command: command.actor.user_id)
class LogOutAll:
    """Revoke all of the caller's sessions, on every device, this one included.

    Rules:
    - Returns how many sessions were still active.
    - Every WebSocket and SSE stream of the caller closes, in every API process.
    - Every outstanding reset and verification link of the account stops working: signing
      out everywhere is what an owner does who fears someone else got in.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        sessions: SessionRepository,
        clock: Clock,
        live_sessions: LiveSessionCloser,
        one_time_tokens: OneTimeTokenRepository,
    ) -> None:
        self._uow = uow
        self._sessions = sessions
        self._clock = clock
        self._live_sessions = live_sessions
        self._one_time_tokens = one_time_tokens

    async def __call__(self, command: LogOutAllCommand) -> int:
        """Revoke them in one statement, and void the links."""
        now = self._clock.now()
        async with self._uow:
            revoked = await self._sessions.revoke_all_for_user(
                command.actor.user_id, at=now, reason="logout everywhere"
            )
            await self._one_time_tokens.invalidate_all(
                command.actor.user_id, LINKS_VOIDED_BY_ACCOUNT_CHANGES, now=now
            )
            self._live_sessions.end_after_commit(self._uow, command.actor.user_id)
            await self._uow.commit()
        return revoked
