"""The `FollowerReader` port in memory, over the follows the memory user repository keeps."""

from collections.abc import Sequence
from datetime import datetime

from adapters.memory.database import InMemoryDatabase
from adapters.memory.users import FOLLOWS
from application.notifications.ports import FollowerReader
from domain.users.values import UserId


class InMemoryFollowerReader(FollowerReader):
    """The `FollowerReader` port over the follows the memory user repository keeps."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    async def followers(
        self, followee: UserId, *, after: UserId | None, limit: int
    ) -> Sequence[UserId]:
        """Followers of `followee` with an id above `after`, by id, at most `limit`."""
        follows: dict[tuple[UserId, UserId], datetime] = self._database.table(FOLLOWS)
        found = sorted(
            (
                follower
                for follower, followed in follows
                if followed == followee and (after is None or follower.value > after.value)
            ),
            key=lambda user_id: user_id.value,
        )
        return found[:limit]
