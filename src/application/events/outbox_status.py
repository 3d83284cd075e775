"""Use case: how the outbox stands, for operators."""

from application.events.ports import OutboxStatus, OutboxStore


class GetOutboxStatus:
    """Report the backlog, the oldest unsent message, the failures and the last error."""

    def __init__(self, outbox: OutboxStore) -> None:
        self._outbox = outbox

    async def __call__(self) -> OutboxStatus:
        """Read the counts in one query."""
        return await self._outbox.status()
