"""One-time tokens in PostgreSQL."""

from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sqlalchemy.tables import one_time_tokens
from application.users.ports import OneTimeTokenRepository
from domain.users.one_time_token import OneTimeToken, TokenPurpose
from domain.users.values import Email, UserId


class SqlOneTimeTokenRepository(OneTimeTokenRepository):
    """The `OneTimeTokenRepository` port on PostgreSQL."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, token: OneTimeToken) -> None:
        """Insert the token."""
        await self._connection.execute(
            sa.insert(one_time_tokens).values(
                token_hash=token.token_hash,
                user_id=token.user_id.value,
                purpose=token.purpose.value,
                email=None if token.email is None else str(token.email),
                created_at=token.created_at,
                expires_at=token.expires_at,
            )
        )

    async def consume(
        self, token_hash: str, purpose: TokenPurpose, *, now: datetime
    ) -> OneTimeToken | None:
        """One conditional UPDATE ... RETURNING: only one racing caller can win."""
        statement = (
            sa.update(one_time_tokens)
            .where(*_usable(token_hash, purpose, now))
            .values(used_at=now)
            .returning(one_time_tokens)
        )
        return _token_of((await self._connection.execute(statement)).mappings().first())

    async def find_usable(
        self, token_hash: str, purpose: TokenPurpose, *, now: datetime
    ) -> OneTimeToken | None:
        """One SELECT under the conditions `consume` updates under; no lock is taken."""
        statement = sa.select(one_time_tokens).where(*_usable(token_hash, purpose, now))
        return _token_of((await self._connection.execute(statement)).mappings().first())

    async def invalidate_all(
        self, user_id: UserId, purposes: Collection[TokenPurpose], *, now: datetime
    ) -> None:
        """One UPDATE over the user's unused tokens of these purposes."""
        await self._connection.execute(
            sa.update(one_time_tokens)
            .where(
                one_time_tokens.c.user_id == user_id.value,
                one_time_tokens.c.purpose.in_([purpose.value for purpose in purposes]),
                one_time_tokens.c.used_at.is_(None),
            )
            .values(used_at=now)
        )

    async def purge_ended(self, *, before: datetime) -> int:
        """Delete tokens that can no longer be used."""
        result = await self._connection.execute(
            sa.delete(one_time_tokens)
            .where(
                sa.or_(one_time_tokens.c.expires_at < before, one_time_tokens.c.used_at < before)
            )
            .returning(one_time_tokens.c.token_hash)
        )
        return len(result.all())


def _usable(
    token_hash: str, purpose: TokenPurpose, now: datetime
) -> tuple[sa.ColumnElement[bool], ...]:
    """The token by its hash, if it has this purpose, is unused and has not expired."""
    return (
        one_time_tokens.c.token_hash == token_hash,
        one_time_tokens.c.purpose == purpose.value,
        one_time_tokens.c.used_at.is_(None),
        one_time_tokens.c.expires_at > now,
    )


def _token_of(row: sa.RowMapping | None) -> OneTimeToken | None:
    if row is None:
        return None
    return OneTimeToken(
        token_hash=row["token_hash"],
        user_id=UserId(row["user_id"]),
        purpose=TokenPurpose(row["purpose"]),
        email=None if row["email"] is None else Email(row["email"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        used_at=row["used_at"],
    )
