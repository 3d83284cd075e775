"""How far the outbox relay is behind, read from PostgreSQL for the dashboard."""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sqlalchemy.tables import outbox
from application.dashboard.ports import Backlog, OutboxBacklog


class SqlOutboxBacklog(OutboxBacklog):
    """The `OutboxBacklog` port over the outbox table, in one statement.

    Both halves walk the partial index of unsent rows: the count stops at `cap` rows, and
    the oldest is the first row in the order the relay takes them, so the cost stays small
    however long the relay has been stuck.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def backlog(self, *, cap: int) -> Backlog:
        """Count unsent rows up to `cap`, and date the first one."""
        unsent = outbox.c.sent_at.is_(None)
        counted = sa.select(sa.literal(1)).where(unsent).limit(cap).subquery()
        oldest = (
            sa.select(outbox.c.occurred_at)
            .where(unsent)
            .order_by(outbox.c.position)
            .limit(1)
            .scalar_subquery()
        )
        statement = sa.select(
            sa.select(sa.func.count()).select_from(counted).scalar_subquery(), oldest
        )
        count, oldest_at = (await self._connection.execute(statement)).one()
        return Backlog(count=count, capped=count >= cap, oldest_at=oldest_at)
