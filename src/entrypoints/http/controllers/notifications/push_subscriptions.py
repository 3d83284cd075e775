"""Web Push: the server's VAPID key, and the subscriptions of the caller's browsers."""

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, delete, get, post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from adapters.webpush.sender import vapid_public_key
from application.notifications.subscribe_to_push import SubscribeToPush, SubscribeToPushCommand
from application.notifications.unsubscribe_from_push import (
    UnsubscribeFromPush,
    UnsubscribeFromPushCommand,
)
from entrypoints.config.settings import Settings
from entrypoints.http.auth import PUBLIC, Actor
from entrypoints.http.openapi import WRITE_CONFLICT, described_by, error_responses
from entrypoints.http.schemas.notifications import (
    PushSubscriptionBody,
    PushUnsubscribeBody,
    VapidKeyResponse,
)


class PushSubscriptionsController(Controller):
    """The Web Push subscriptions of the caller's browsers."""

    path = "/api/push"
    tags = ["notifications"]  # noqa: RUF012 - Litestar reads this class attribute

    @get(
        "/vapid-public-key",
        opt=PUBLIC,
        summary="The server's VAPID public key",
        responses=error_responses(),
    )
    @inject
    async def vapid_public_key(self, settings: FromDishka[Settings]) -> VapidKeyResponse:
        """Null when push is not configured."""
        key = settings.push.vapid_private_key
        return VapidKeyResponse(public_key=None if key is None else vapid_public_key(key))

    @post(
        "/subscriptions",
        status_code=HTTP_201_CREATED,
        summary="Subscribe a browser",
        description=described_by(SubscribeToPush),
        responses=error_responses(
            forbidden="The endpoint's host is not a push service on `PUSH_ALLOWED_HOSTS`.",
            conflict=WRITE_CONFLICT,
        ),
    )
    @inject
    async def subscribe(
        self,
        actor: Actor,
        data: JSONBody[PushSubscriptionBody],
        subscribe: FromDishka[SubscribeToPush],
    ) -> PushSubscriptionBody:
        await subscribe(
            SubscribeToPushCommand(
                user_id=actor.user_id,
                endpoint=data.endpoint,
                p256dh=data.keys.p256dh,
                auth=data.keys.auth,
            )
        )
        return data

    @delete(
        "/subscriptions",
        status_code=HTTP_204_NO_CONTENT,
        summary="Unsubscribe a browser",
        description=described_by(UnsubscribeFromPush),
        responses=error_responses(conflict=WRITE_CONFLICT),
    )
    @inject
    async def unsubscribe(
        self,
        actor: Actor,
        data: JSONBody[PushUnsubscribeBody],
        unsubscribe: FromDishka[UnsubscribeFromPush],
    ) -> None:
        await unsubscribe(UnsubscribeFromPushCommand(user_id=actor.user_id, endpoint=data.endpoint))
