"""Use case: end one of the caller's sessions, such as a lost device's."""

from dataclasses import dataclass
from uuid import UUID

from application.audit.capture import audited
from application.common.identity import Identity
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.users.errors import ConcealedSessionError, SessionNotFoundError
from application.users.live_sessions import LiveSessionCloser
from application.users.ports import SessionRepository


@dataclass(frozen=True, slots=True, kw_only=True)
class RevokeSessionCommand:
    """The caller and the session to end."""

    actor: Identity
    session_id: UUID


@audited("session.revoke", target="session", target_id=lambda command: command.session_id)
class RevokeSession:
    """Revoke one session by id.

    Rules:
    - Only the owner may revoke a session; anyone else's id is `NotFoundError`, exactly like an id
      that does not exist, so ids cannot be probed (OWASP API1); the audit log records
      that attempt as denied (`ConcealedSessionError`).
    - Revoking a session twice is harmless.
    - The session's WebSockets and SSE streams close, in every API process; the caller's
      other sessions keep theirs.
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

    async def __call__(self, command: RevokeSessionCommand) -> None:
        """Revoke it."""
        async with self._uow:
            session = await self._sessions.get(command.session_id, for_update=True)
            if session is None:
                raise SessionNotFoundError
            if session.user_id != command.actor.user_id:
                raise ConcealedSessionError
            if session.revoke(now=self._clock.now(), reason="revoked by owner"):
                await self._sessions.save(session)
            self._live_sessions.end_after_commit(
                self._uow, command.actor.user_id, sessions=[session.id]
            )
            await self._uow.commit()
