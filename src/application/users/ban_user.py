"""Use case: ban a user (operators, from the CLI or the admin API)."""

from dataclasses import dataclass

from application.audit.capture import audited, identify_target
from application.common.errors import NotFoundError
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.users.live_sessions import LiveSessionCloser
from application.users.ports import SessionRepository, UserRepository


@dataclass(frozen=True, slots=True, kw_only=True)
class BanUserCommand:
    """Whom to ban, and why."""

    username: str
    reason: str = "banned by an operator"


@audited("user.ban", target="user")
class BanUser:
    """Ban a user.

    Rules:
    - The user must exist (`NotFoundError`).
    - A banned user cannot sign in or refresh; every session they have is revoked at once,
      and their WebSockets and SSE streams close in every API process.
    - Banning twice changes nothing and records no event, even when two operators race:
      the account is locked from read to commit. `UnbanUser` lifts a ban.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        users: UserRepository,
        sessions: SessionRepository,
        clock: Clock,
        live_sessions: LiveSessionCloser,
    ) -> None:
        self._uow = uow
        self._users = users
        self._sessions = sessions
        self._clock = clock
        self._live_sessions = live_sessions

    async def __call__(self, command: BanUserCommand) -> None:
        """Apply the ban and end the sessions, in one transaction."""
        now = self._clock.now()
        async with self._uow:
            user = await self._users.get_by_username(command.username, for_update=True)
            if user is None:
                raise NotFoundError("not found", field="user")
            identify_target(user.id)
            user.ban(now=now, reason=command.reason)
            if not user.has_pending_events:
                return
            await self._sessions.revoke_all_for_user(user.id, at=now, reason="user banned")
            self._live_sessions.end_after_commit(self._uow, user.id)
            await self._users.save(user)
            self._uow.track(user)
            await self._uow.commit()
