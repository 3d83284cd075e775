"""The `FollowerReader` port in PostgreSQL, on the follows table."""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sqlalchemy.tables import follows
from application.notifications.ports import FollowerReader
from domain.users.values import UserId


class SqlFollowerReader(FollowerReader):
    """The `FollowerReader` port on the `follows` table, in keyset pages by follower id."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def followers(
        self, followee: UserId, *, after: UserId | None, limit: int
    ) -> Sequence[UserId]:
        """Followers of `followee` with an id above `after`, by id, at most `limit`."""
        statement = sa.select(follows.c.follower_id).where(follows.c.followee_id == followee.value)
        if after is not None:
            statement = statement.where(follows.c.follower_id > after.value)
        statement = statement.order_by(follows.c.follower_id).limit(limit)
        return [UserId(i) for i in (await self._connection.execute(statement)).scalars()]
