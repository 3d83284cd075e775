"""Profiles in PostgreSQL: a user as others see them, read in one statement."""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sqlalchemy.tables import follows, users
from application.profiles.ports import ProfileReader, ProfileView
from domain.users.values import UserId, Username


class SqlProfileReader(ProfileReader):
    """The `ProfileReader` port: one statement, with `following` as an EXISTS."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def by_username(self, username: str, *, viewer: UserId | None) -> ProfileView | None:
        """Read the profile and the viewer's follow in one round trip."""
        if not Username.could_exist(username):
            return None
        following: sa.ColumnElement[bool] = (
            sa.exists()
            .where(follows.c.follower_id == viewer.value, follows.c.followee_id == users.c.id)
            .label("following")
            if viewer is not None
            else sa.false().label("following")
        )
        statement = sa.select(users.c.username, users.c.bio, users.c.image, following).where(
            users.c.username == username
        )
        row = (await self._connection.execute(statement)).mappings().first()
        if row is None:
            return None
        return ProfileView(
            username=row["username"],
            bio=row["bio"],
            image=row["image"],
            following=bool(row["following"]),
        )
