"""Use case: the caller's active sessions."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from application.common.identity import Identity
from application.common.ports.clock import Clock
from application.users.ports import SessionRepository


@dataclass(frozen=True, slots=True, kw_only=True)
class ListSessionsCommand:
    """The caller."""

    actor: Identity


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionView:
    """One session as its owner sees it; `current` marks the one making this request."""

    id: UUID
    device: str
    ip: str
    created_at: datetime
    last_used_at: datetime
    current: bool


class ListSessions:
    """List the caller's sessions that are still active, newest first.

    Rules:
    - Only the caller's own sessions are listed; revoked and expired ones are left out.
    - Each shows its device, its IP address, when it was opened and last used, and
      whether it is the one making this request.
    """

    def __init__(self, sessions: SessionRepository, clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def __call__(self, command: ListSessionsCommand) -> list[SessionView]:
        """Read and filter."""
        now = self._clock.now()
        return [
            SessionView(
                id=s.id,
                device=s.device,
                ip=s.ip,
                created_at=s.created_at,
                last_used_at=s.last_used_at,
                current=s.id == command.actor.session_id,
            )
            for s in await self._sessions.list_for_user(command.actor.user_id)
            if s.is_active(now)
        ]
