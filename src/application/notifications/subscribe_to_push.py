"""Use case: register a browser's Web Push subscription."""

from dataclasses import dataclass

from application.common.errors import InvalidInputError
from application.ports.notifications import PushSubscriptionRepository
from application.ports.persistence import UnitOfWork
from application.ports.system import Clock
from domain.notifications.push import PushSubscription
from domain.users.values import UserId


@dataclass(frozen=True, slots=True, kw_only=True)
class PushPolicy:
    """Limits on subscriptions; `allow_http` admits plain-http endpoints (local testing)."""

    max_per_user: int
    allow_http: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscribeToPushCommand:
    """The subscription as the browser's `PushSubscription.toJSON()` gives it."""

    user_id: UserId
    endpoint: str
    p256dh: str
    auth: str


class SubscribeToPush:
    """Store the subscription for the caller.

    Rules:
    - The endpoint must be HTTPS and the keys well-formed (422 naming the field).
    - Subscribing the same endpoint again replaces it, even for another account (the
      browser now belongs to whoever subscribed last).
    - A user has at most `max_per_user` subscriptions; beyond that, 422.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        subscriptions: PushSubscriptionRepository,
        clock: Clock,
        policy: PushPolicy,
    ) -> None:
        self._uow = uow
        self._subscriptions = subscriptions
        self._clock = clock
        self._policy = policy

    async def __call__(self, command: SubscribeToPushCommand) -> PushSubscription:
        """The stored subscription."""
        subscription = PushSubscription.create(
            command.user_id,
            endpoint=command.endpoint,
            p256dh=command.p256dh,
            auth=command.auth,
            created_at=self._clock.now(),
            allow_http=self._policy.allow_http,
        )
        async with self._uow:
            existing = await self._subscriptions.for_user(command.user_id)
            endpoints = {item.endpoint for item in existing}
            if command.endpoint not in endpoints and len(endpoints) >= self._policy.max_per_user:
                raise InvalidInputError(
                    f"has reached the limit of {self._policy.max_per_user} subscriptions",
                    field="endpoint",
                )
            await self._subscriptions.add(subscription)
            await self._uow.commit()
        return subscription
