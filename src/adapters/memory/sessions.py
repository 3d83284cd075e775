"""Sign-in sessions in the in-memory database."""

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from adapters.memory.database import InMemoryDatabase
from adapters.memory.users import USERS
from application.users.ports import LiveCaller, RefreshTokenMatch, SessionRepository
from domain.users.session import Session
from domain.users.values import UserId

SESSIONS = "sessions"
RETIRED = "retired_refresh_tokens"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Retirement:
    """A row of the retired table: whose token it was, when and by whom it was rotated."""

    session_id: UUID
    retired_at: datetime
    retired_by: str | None


class InMemorySessionRepository(SessionRepository):
    """The `SessionRepository` port over the in-memory database."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    @property
    def _sessions(self) -> dict[UUID, Session]:
        return self._database.table(SESSIONS)

    @property
    def _retired(self) -> dict[str, _Retirement]:
        return self._database.table(RETIRED)

    async def add(self, session: Session) -> None:
        """Store a copy."""
        await self.save(session)

    async def save(self, session: Session) -> None:
        """Store a copy, moving rotated hashes to the retired table."""
        for token_hash in session.retired_hashes:
            self._retired.setdefault(
                token_hash,
                _Retirement(
                    session_id=session.id,
                    retired_at=session.last_used_at,
                    retired_by=session.rotated_by,
                ),
            )
        stored = copy.deepcopy(session)
        stored.retired_hashes, stored.rotated_by = [], None
        self._sessions[session.id] = stored

    async def get(
        self,
        session_id: UUID,
        *,
        for_update: bool = False,  # noqa: ARG002 - the unit of work already serializes
    ) -> Session | None:
        """A copy of the session."""
        session = self._sessions.get(session_id)
        return copy.deepcopy(session) if session else None

    async def find_by_token_hash(self, token_hash: str) -> RefreshTokenMatch | None:
        """Look among current tokens, then retired ones."""
        for session in self._sessions.values():
            if session.token_hash == token_hash:
                return RefreshTokenMatch(session=copy.deepcopy(session), reused=False)
        retirement = self._retired.get(token_hash)
        if retirement is None or retirement.session_id not in self._sessions:
            return None
        return RefreshTokenMatch(
            session=copy.deepcopy(self._sessions[retirement.session_id]),
            reused=True,
            retired_at=retirement.retired_at,
            retired_by=retirement.retired_by,
        )

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
        for token_hash in [h for h, r in self._retired.items() if r.session_id in ended]:
            del self._retired[token_hash]
        return len(ended)

    async def live_caller(
        self, session_id: UUID, user_id: UserId, *, now: datetime
    ) -> LiveCaller | None:
        """The user as they are, while the session is active and the user present and unbanned."""
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
        return LiveCaller(user.role, str(user.username))
