"""Probes PostgreSQL with a real round trip."""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from application.health.ports import HealthProbe


class SqlDatabaseProbe(HealthProbe):
    """Reports the database up when ``SELECT 1`` answers on a pooled connection."""

    dependency = "database"

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def check(self) -> None:
        """Run ``SELECT 1``; raise when the database does not answer."""
        async with self._engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))
