"""Use case: end the caller's current session."""

from dataclasses import dataclass

from application.audit.capture import audited
from application.common.identity import Identity
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.users.live_sessions import LiveSessionCloser
from application.users.ports import SessionRepository


@dataclass(frozen=True, slots=True, kw_only=True)
class LogOutCommand:
    """The caller, whose access token names their session."""

    actor: Identity


@audited("user.logout", target="session", target_id=lambda command: command.actor.session_id)
class LogOut:
    """Revoke the session the caller's access token belongs to.

    Rules:
    - Its refresh token and access tokens stop working at once, and its WebSockets and
      SSE streams close, in every API process.
    - Logging out twice, or with a token that has no session, is harmless.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        sessions: SessionRepository,
        clock: Clock,
        live_sessions: LiveSessionCloser,
    ) -> None:
        self._uow = uow
        self._sessions = sessions
        self._clock = clock
        self._live_sessions = live_sessions

    async def __call__(self, command: LogOutCommand) -> None:
        """Revoke the session if it is the caller's."""
        session_id = command.actor.session_id
        if session_id is None:
            return
        async with self._uow:
            session = await self._sessions.get(session_id, for_update=True)
            if session is None or session.user_id != command.actor.user_id:
                return
            if session.revoke(now=self._clock.now(), reason="logout"):
                await self._sessions.save(session)
            self._live_sessions.end_after_commit(
                self._uow, command.actor.user_id, sessions=[session_id]
            )
            await self._uow.commit()
