"""Sign-in sessions in PostgreSQL."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sqlalchemy.deferred_inserts import flush, insert_at_commit
from adapters.sqlalchemy.precompiled import PrecompiledStatements, fetch_all_on_driver
from adapters.sqlalchemy.tables import retired_refresh_tokens, sessions, users
from application.users.ports import LiveCaller, RefreshTokenMatch, SessionRepository
from domain.users.session import Session
from domain.users.values import Role, UserId

_COLUMNS = (
    "user_id",
    "token_hash",
    "created_at",
    "last_used_at",
    "expires_at",
    "device",
    "ip",
    "revoked_at",
    "revoked_reason",
)


def _to_row(session: Session) -> dict[str, Any]:
    row = {name: getattr(session, name) for name in _COLUMNS}
    row["user_id"] = session.user_id.value
    return row


def _from_row(row: sa.RowMapping) -> Session:
    values = {name: row[name] for name in _COLUMNS}
    values["user_id"] = UserId(row["user_id"])
    return Session(id=row["id"], **values)


def _build_live_caller() -> sa.Select[tuple[str, str]]:
    return (
        sa.select(users.c.role, users.c.username)
        .join(sessions, sessions.c.user_id == users.c.id)
        .where(
            sessions.c.id == sa.bindparam("session_id", type_=sa.Uuid),
            sessions.c.user_id == sa.bindparam("user_id", type_=sa.Uuid),
            sessions.c.revoked_at.is_(None),
            sessions.c.expires_at > sa.bindparam("now", type_=sa.DateTime(timezone=True)),
            users.c.banned_at.is_(None),
        )
    )


_LIVE_CALLER = PrecompiledStatements(_build_live_caller)


class SqlSessionRepository(SessionRepository):
    """The `SessionRepository` port on PostgreSQL."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, session: Session) -> None:
        """Insert the session at the unit of work's commit, with its events.

        Every sign-in runs this: deferred, the sign-in's whole transaction is one statement
        (`adapters.sqlalchemy.deferred_inserts`). The other methods flush it first.
        """
        await insert_at_commit(self._connection, sessions, {"id": session.id, **_to_row(session)})

    async def save(self, session: Session) -> None:
        """Update the session and retire its rotated hashes, in the caller's transaction."""
        await flush(self._connection)
        if session.retired_hashes:
            await self._connection.execute(
                pg_insert(retired_refresh_tokens).on_conflict_do_nothing(),
                [
                    {
                        "token_hash": h,
                        "session_id": session.id,
                        "retired_at": session.last_used_at,
                        "retired_by": session.rotated_by,
                    }
                    for h in session.retired_hashes
                ],
            )
            session.retired_hashes = []
        await self._connection.execute(
            sa.update(sessions).where(sessions.c.id == session.id).values(_to_row(session))
        )

    async def get(self, session_id: UUID, *, for_update: bool = False) -> Session | None:
        """Load one session; `for_update` locks its row until the transaction ends."""
        await flush(self._connection)
        statement = sa.select(sessions).where(sessions.c.id == session_id)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._connection.execute(statement)).mappings().first()
        return _from_row(row) if row else None

    async def find_by_token_hash(self, token_hash: str) -> RefreshTokenMatch | None:
        """Find the session by its current or a retired hash, then lock its row.

        Locking happens on a second, by-id read, so a request that waited for a racing
        rotation sees the row as it is now: its token no longer current, hence a replay.
        The retirement is read after the lock too, so that it is the racing rotation's.
        """
        await flush(self._connection)
        retired = sa.select(retired_refresh_tokens.c.session_id).where(
            retired_refresh_tokens.c.token_hash == token_hash
        )
        current = sa.select(sessions.c.id).where(sessions.c.token_hash == token_hash)
        session_id = await self._connection.scalar(current.union_all(retired).limit(1))
        if session_id is None:
            return None
        locked = sa.select(sessions).where(sessions.c.id == session_id).with_for_update()
        row = (await self._connection.execute(locked)).mappings().first()
        if row is None:
            return None
        if row["token_hash"] == token_hash:
            return RefreshTokenMatch(session=_from_row(row), reused=False)
        retirement = (
            await self._connection.execute(
                sa.select(
                    retired_refresh_tokens.c.retired_at, retired_refresh_tokens.c.retired_by
                ).where(
                    retired_refresh_tokens.c.token_hash == token_hash,
                    retired_refresh_tokens.c.session_id == session_id,
                )
            )
        ).first()
        return RefreshTokenMatch(
            session=_from_row(row),
            reused=True,
            retired_at=retirement.retired_at if retirement else None,
            retired_by=retirement.retired_by if retirement else None,
        )

    async def list_for_user(self, user_id: UserId) -> Sequence[Session]:
        """Newest first."""
        await flush(self._connection)
        statement = (
            sa.select(sessions)
            .where(sessions.c.user_id == user_id.value)
            .order_by(sessions.c.created_at.desc())
        )
        return [_from_row(row) for row in (await self._connection.execute(statement)).mappings()]

    async def revoke_all_for_user(self, user_id: UserId, *, at: datetime, reason: str) -> int:
        """One UPDATE over the user's active sessions."""
        await flush(self._connection)
        statement = (
            sa.update(sessions)
            .where(sessions.c.user_id == user_id.value, sessions.c.revoked_at.is_(None))
            .values(revoked_at=at, revoked_reason=reason)
            .returning(sessions.c.id)
        )
        return len((await self._connection.execute(statement)).all())

    async def revoke_others(
        self, user_id: UserId, *, keep: UUID | None, at: datetime, reason: str
    ) -> int:
        """One UPDATE over the user's other active sessions."""
        await flush(self._connection)
        statement = (
            sa.update(sessions)
            .where(sessions.c.user_id == user_id.value, sessions.c.revoked_at.is_(None))
            .values(revoked_at=at, revoked_reason=reason)
            .returning(sessions.c.id)
        )
        if keep is not None:
            statement = statement.where(sessions.c.id != keep)
        return len((await self._connection.execute(statement)).all())

    async def purge_ended(self, *, before: datetime) -> int:
        """Delete ended sessions; their retired token hashes go by cascade."""
        await flush(self._connection)
        result = await self._connection.execute(
            sa.delete(sessions)
            .where(sa.or_(sessions.c.expires_at < before, sessions.c.revoked_at < before))
            .returning(sessions.c.id)
        )
        return len(result.all())

    async def live_caller(
        self, session_id: UUID, user_id: UserId, *, now: datetime
    ) -> LiveCaller | None:
        """One primary-key read joined to the user, precompiled: it runs on every request."""
        await flush(self._connection)
        rows = await fetch_all_on_driver(
            self._connection,
            _LIVE_CALLER.sql(),
            {"session_id": session_id, "user_id": user_id.value, "now": now},
        )
        return LiveCaller(Role(rows[0][0]), rows[0][1]) if rows else None
