"""Use case: forget one of the caller's Web Push subscriptions."""

from dataclasses import dataclass

from application.audit.capture import audited
from application.common.ports.unit_of_work import UnitOfWork
from application.notifications.ports import PushSubscriptionRepository
from domain.users.values import UserId


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsubscribeFromPushCommand:
    """Whose, and which endpoint."""

    user_id: UserId
    endpoint: str


@audited("push.unsubscribe", target="user", target_id=lambda command: command.user_id)
class UnsubscribeFromPush:
    """Forget the subscription; only the caller's own, and forgetting twice is harmless."""

    def __init__(self, uow: UnitOfWork, subscriptions: PushSubscriptionRepository) -> None:
        self._uow = uow
        self._subscriptions = subscriptions

    async def __call__(self, command: UnsubscribeFromPushCommand) -> bool:
        """Whether there was such a subscription."""
        async with self._uow:
            removed = await self._subscriptions.remove(command.user_id, command.endpoint)
            await self._uow.commit()
        return removed
