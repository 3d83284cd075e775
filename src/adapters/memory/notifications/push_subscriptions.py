"""The `PushSubscriptionRepository` port in memory, keyed by endpoint."""

from collections.abc import Sequence

from adapters.memory.database import InMemoryDatabase
from application.notifications.ports import PushSubscriptionRepository
from domain.notifications.push import PushSubscription
from domain.users.values import UserId

PUSH_SUBSCRIPTIONS = "push_subscriptions"


class InMemoryPushSubscriptionRepository(PushSubscriptionRepository):
    """The `PushSubscriptionRepository` port, keyed by endpoint."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    @property
    def _rows(self) -> dict[str, PushSubscription]:
        return self._database.table(PUSH_SUBSCRIPTIONS)

    async def add(self, subscription: PushSubscription) -> None:
        """Store it, replacing whatever was at its endpoint."""
        self._rows[subscription.endpoint] = subscription

    async def remove(self, user_id: UserId, endpoint: str) -> bool:
        """Forget the endpoint if it is the user's; False otherwise."""
        row = self._rows.get(endpoint)
        if row is None or row.user_id != user_id:
            return False
        del self._rows[endpoint]
        return True

    async def remove_endpoint(self, endpoint: str) -> None:
        """Forget the endpoint, whoever's it is."""
        self._rows.pop(endpoint, None)

    async def for_user(self, user_id: UserId) -> Sequence[PushSubscription]:
        """The user's subscriptions, oldest first, ties by endpoint."""
        found = [s for s in self._rows.values() if s.user_id == user_id]
        return sorted(found, key=lambda s: (s.created_at, s.endpoint))
