"""Users and follows in PostgreSQL, with SQLAlchemy Core on the request's connection."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sqlalchemy.errors import constraint_name
from adapters.sqlalchemy.precompiled import PrecompiledStatements, fetch_all_on_driver
from adapters.sqlalchemy.tables import follows, users
from application.users.errors import EmailTakenError, UsernameTakenError
from application.users.ports import UserRepository
from domain.users.user import User
from domain.users.values import Email, Profile, Role, UserId, Username

_INSERT = sa.insert(users)
_UPDATE = sa.update(users).where(users.c.id == sa.bindparam("current_id", type_=sa.Uuid))
_COLUMNS = tuple(users.c.keys())


def _lookup(column: sa.Column[Any], key_type: sa.types.TypeEngine[Any]) -> PrecompiledStatements:
    """The read of one user by `column`; the variant `True` locks the row FOR UPDATE."""

    def build(for_update: bool) -> sa.Select[Any]:  # noqa: FBT001 - the variant key
        statement = sa.select(users).where(column == sa.bindparam("key", type_=key_type))
        return statement.with_for_update() if for_update else statement

    return PrecompiledStatements(build)


_BY_ID = _lookup(users.c.id, sa.Uuid())
_BY_EMAIL = _lookup(users.c.email, sa.String())
_BY_USERNAME = _lookup(users.c.username, sa.String())

_CONFLICTS = {
    "uq_users_email": EmailTakenError,
    "uq_users_username": UsernameTakenError,
    "uq_users_username_lower": UsernameTakenError,
}


def _to_row(user: User) -> dict[str, Any]:
    return {
        "id": user.id.value,
        "username": str(user.username),
        "email": str(user.email),
        "password_hash": user.password_hash,
        "bio": user.profile.bio,
        "image": user.profile.image,
        "role": user.role.value,
        "email_verified_at": user.email_verified_at,
        "banned_at": user.banned_at,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    }


def _from_row(row: Mapping[str, Any]) -> User:
    return User(
        id=UserId(row["id"]),
        username=Username(row["username"]),
        email=Email(row["email"]),
        password_hash=row["password_hash"],
        profile=Profile(bio=row["bio"], image=row["image"]),
        role=Role(row["role"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        email_verified_at=row["email_verified_at"],
        banned_at=row["banned_at"],
    )


class SqlUserRepository(UserRepository):
    """The `UserRepository` port on PostgreSQL.

    A unique violation is matched by constraint name and becomes the application's
    "taken" error; the failed statement runs in a savepoint, so the transaction survives.
    The lookups by id, email and username are compiled once and run on the psycopg
    connection: sign-in and every profile read run them, and SQLAlchemy's execution of a
    one-row read cost more Python than the read (see `adapters.sqlalchemy.precompiled`).
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, user: User) -> None:
        """Insert the user."""
        await self._write(_INSERT, _to_row(user))

    async def save(self, user: User) -> None:
        """Update every column of the user."""
        row = _to_row(user)
        del row["id"], row["created_at"]
        await self._write(_UPDATE, {"current_id": user.id.value, **row})

    async def get(self, user_id: UserId, *, for_update: bool = False) -> User | None:
        """Load by id; `for_update` locks the row until the transaction ends."""
        return await self._one(_BY_ID, user_id.value, for_update=for_update)

    async def get_by_email(self, email: Email) -> User | None:
        """Load by normalized email."""
        return await self._one(_BY_EMAIL, str(email))

    async def get_by_username(self, username: str, *, for_update: bool = False) -> User | None:
        """Load by exact username; a name no account could have is not looked up."""
        if not Username.could_exist(username):
            return None
        return await self._one(_BY_USERNAME, username, for_update=for_update)

    async def username_taken(self, username: Username) -> bool:
        """Whether the username exists, ignoring case (served by the lower() index)."""
        statement = sa.select(
            sa.exists().where(sa.func.lower(users.c.username) == str(username).lower())
        )
        return bool(await self._connection.scalar(statement))

    async def add_follow(self, follower: UserId, followee: UserId, *, at: datetime) -> bool:
        """Insert the follow unless it exists; True when a row was added."""
        statement = (
            pg_insert(follows)
            .values(follower_id=follower.value, followee_id=followee.value, created_at=at)
            .on_conflict_do_nothing()
            .returning(follows.c.follower_id)
        )
        result = await self._connection.execute(statement)
        return result.first() is not None

    async def remove_follow(self, follower: UserId, followee: UserId) -> bool:
        """Delete the follow; True when a row went."""
        result = await self._connection.execute(
            sa.delete(follows)
            .where(follows.c.follower_id == follower.value, follows.c.followee_id == followee.value)
            .returning(follows.c.follower_id)
        )
        return result.first() is not None

    async def _one(
        self, statement: PrecompiledStatements, key: object, *, for_update: bool = False
    ) -> User | None:
        sql = statement.sql(for_update)
        rows = await fetch_all_on_driver(self._connection, sql, {"key": key})
        return _from_row(dict(zip(_COLUMNS, rows[0], strict=True))) if rows else None

    async def _write(self, statement: sa.Executable, parameters: dict[str, Any]) -> None:
        try:
            async with self._connection.begin_nested():
                await self._connection.execute(statement, parameters)
        except IntegrityError as exc:
            conflict = _CONFLICTS.get(constraint_name(exc) or "")
            if conflict is None:
                raise
            raise conflict from None
