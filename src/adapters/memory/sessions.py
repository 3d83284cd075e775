"""Sign-in sessions in the in-memory database."""

import copy
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from adapters.memory.database import InMemoryDatabase
from adapters.memory.users import USERS
from application.ports.persistence import RefreshTokenMatch
from domain.users.session import Session
from domain.users.values import Role, UserId

SESSIONS = "sessions"
RETIRED = "retired_refresh_tokens"


class InMemorySessionRepository:
    """The `SessionRepository` port over the in-memory database."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    @property
    def _sessions(self) -> dict[UUID, Session]:
        return self._database.table(SESSIONS)

    @property
    def _retired(self) -> dict[str, UUID]:
        return self._database.table(RETIRED)

    async def add(self, session: Session) -> None:
        """Store a copy."""
        await self.save(session)

    async def save(self, session: Session) -> None:
        """Store a copy, moving rotated hashes to the retired table."""
        for token_hash in session.retired_hashes:
            self._retired[token_hash] = session.id
        stored = copy.deepcopy(session)
        stored.retired_hashes = []
        self._sessions[session.id] = stored

    async def get(self, session_id: UUID) -> Session | None:
        """A copy of the session."""
        session = self._sessions.get(session_id)
        return copy.deepcopy(session) if session else None

    async def find_by_token_hash(self, token_hash: str) -> RefreshTokenMatch | None:
        """Look among current tokens, then retired ones."""
        for session in self._sessions.values():
            if session.token_hash == token_hash:
                return RefreshTokenMatch(session=copy.deepcopy(session), reused=False)
        session_id = self._retired.get(token_hash)
        if session_id is not None and session_id in self._sessions:
            return RefreshTokenMatch(session=copy.deepcopy(self._sessions[session_id]), reused=True)
        return None

    async def list_for_user(self, user_id: UserId) -> Sequence[Session]:
        """Copies, newest first."""
        mine = [copy.deepcopy(s) for s in self._sessions.values() if s.user_id == user_id]
        return sorted(mine, key=lambda s: s.created_at, reverse=True)

    async def revoke_all_for_user(self, user_id: UserId, *, at: datetime, reason: str) -> int:
        """Revoke each active session in place."""
        return sum(
            session.revoke(now=at, reason=reason)
            for session in self._sessions.values()
            if session.user_id == user_id and session.revoked_at is None
        )

    async def revoke_others(
        self, user_id: UserId, *, keep: UUID | None, at: datetime, reason: str
    ) -> int:
        """Revoke each active session but `keep`."""
        return sum(
            session.revoke(now=at, reason=reason)
            for session in self._sessions.values()
            if session.user_id == user_id and session.id != keep and session.revoked_at is None
        )

    async def purge_ended(self, *, before: datetime) -> int:
        """Forget ended sessions and the hashes they retired."""
        ended = {
            session_id
            for session_id, session in self._sessions.items()
            if session.expires_at < before
            or (session.revoked_at is not None and session.revoked_at < before)
        }
        for session_id in ended:
            del self._sessions[session_id]
        for token_hash in [h for h, owner in self._retired.items() if owner in ended]:
            del self._retired[token_hash]
        return len(ended)

    async def live_role(self, session_id: UUID, user_id: UserId, *, now: datetime) -> Role | None:
        """The user's role while the session is active and the user present and unbanned."""
        session = self._sessions.get(session_id)
        user = self._database.table(USERS).get(user_id)
        if (
            session is None
            or session.user_id != user_id
            or not session.is_active(now)
            or user is None
            or user.is_banned
        ):
            return None
        role: Role = user.role
        return role
