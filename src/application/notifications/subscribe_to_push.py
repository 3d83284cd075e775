"""Use case: register a browser's Web Push subscription."""

from dataclasses import dataclass

from application.audit.capture import audited
from application.common.errors import InvalidInputError, PermissionDeniedError
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.notifications.ports import (
    HostNotResolvedError,
    HostResolver,
    PushSubscriptionRepository,
)
from domain.notifications.push import PushSubscription
from domain.notifications.push_endpoint import (
    PushServiceAllowlist,
    is_public_address,
    push_service_host,
)
from domain.users.values import UserId


@dataclass(frozen=True, slots=True, kw_only=True)
class PushPolicy:
    """Limits on subscriptions, and which push services endpoints may point at.

    `allow_local_endpoints` (local testing only) admits any http or https endpoint: IP
    literals, private addresses and hosts off the allowlist.
    """

    max_per_user: int
    allowed_hosts: PushServiceAllowlist
    allow_local_endpoints: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscribeToPushCommand:
    """The subscription as the browser's `PushSubscription.toJSON()` gives it."""

    user_id: UserId
    endpoint: str
    p256dh: str
    auth: str


@audited("push.subscribe", target="user", target_id=lambda command: command.user_id)
class SubscribeToPush:
    """Store the subscription for the caller.

    Rules:
    - The endpoint must be HTTPS and the keys well-formed (`DomainError` naming the field).
    - The endpoint's host must be a push service on the allowlist, which the server's
      operator chooses and no schema can state: otherwise `PermissionDeniedError` naming `endpoint`.
    - The host must be a name, not an IP address in any notation; it must resolve, and
      only to public addresses (no private, loopback, link-local, reserved, multicast,
      carrier-grade NAT or cloud metadata address). Otherwise `InvalidInputError` naming
      `endpoint`: the worker would post there.
    - Subscribing the same endpoint again replaces it, even for another account (the
      browser now belongs to whoever subscribed last).
    - A user has at most `max_per_user` subscriptions; beyond that, `InvalidInputError`.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        subscriptions: PushSubscriptionRepository,
        clock: Clock,
        policy: PushPolicy,
        resolver: HostResolver,
    ) -> None:
        self._uow = uow
        self._subscriptions = subscriptions
        self._clock = clock
        self._policy = policy
        self._resolver = resolver

    async def __call__(self, command: SubscribeToPushCommand) -> PushSubscription:
        """The stored subscription."""
        subscription = PushSubscription.create(
            command.user_id,
            endpoint=command.endpoint,
            p256dh=command.p256dh,
            auth=command.auth,
            created_at=self._clock.now(),
            allow_http=self._policy.allow_local_endpoints,
        )
        if not self._policy.allow_local_endpoints:
            await self._check_push_service(subscription.endpoint)
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

    async def _check_push_service(self, endpoint: str) -> None:
        host = push_service_host(endpoint)
        if not self._policy.allowed_hosts.allows(host):
            raise PermissionDeniedError(f"{host} is not a known push service", field="endpoint")
        try:
            addresses = await self._resolver.addresses(host)
        except HostNotResolvedError:
            raise InvalidInputError(
                f"{host} does not resolve; subscribe again later", field="endpoint"
            ) from None
        if not all(is_public_address(address) for address in addresses):
            raise InvalidInputError(
                f"{host} resolves to a private or reserved address", field="endpoint"
            )
