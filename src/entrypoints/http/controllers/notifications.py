"""Notifications, their preferences, Web Push subscriptions and the phone number for SMS."""

from typing import Any
from uuid import UUID

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, delete, get, post, put
from litestar.params import FromPath, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from adapters.webpush.sender import vapid_public_key
from application.articles.pagination import PageRequest
from application.common.errors import DependencyUnavailableError, NotFoundError
from application.common.permissions import Permission
from application.notifications.count_unread_notifications import CountUnreadNotifications
from application.notifications.get_notification_preferences import GetNotificationPreferences
from application.notifications.get_phone_number import GetPhoneNumber
from application.notifications.list_notifications import (
    ListNotifications,
    ListNotificationsCommand,
)
from application.notifications.mark_all_notifications_read import MarkAllNotificationsRead
from application.notifications.mark_notifications_read import (
    MarkNotificationsRead,
    MarkNotificationsReadCommand,
)
from application.notifications.remove_phone_number import RemovePhoneNumber
from application.notifications.set_phone_number import SetPhoneNumber, SetPhoneNumberCommand
from application.notifications.subscribe_to_push import SubscribeToPush, SubscribeToPushCommand
from application.notifications.unsubscribe_from_push import (
    UnsubscribeFromPush,
    UnsubscribeFromPushCommand,
)
from application.notifications.update_notification_preferences import (
    UpdateNotificationPreferences,
    UpdateNotificationPreferencesCommand,
)
from application.notifications.verify_phone_number import (
    VerifyPhoneNumber,
    VerifyPhoneNumberCommand,
)
from application.notifications.views import notification_document
from entrypoints.config.settings import Settings
from entrypoints.http.auth import PUBLIC, presented_token, required_identity
from entrypoints.http.openapi import WRITE_CONFLICT, error_responses
from entrypoints.http.rate_limits import EdgeRateLimits, auth_route
from entrypoints.http.realtime.tickets import (
    LiveTicketResponse,
    LiveTickets,
    TicketUnavailableError,
)
from entrypoints.http.schemas.notifications import (
    MarkedResponse,
    Notification,
    NotificationResponse,
    NotificationsResponse,
    PhoneBody,
    PhoneCodeBody,
    PhoneResponse,
    PreferencesBody,
    PreferencesResponse,
    PushSubscriptionBody,
    PushUnsubscribeBody,
    UnreadCountResponse,
    VapidKeyResponse,
)
from entrypoints.http.schemas.pagination import PageLimit, PageOffset

AnyRequest = Request[Any, Any, Any]
_PHONE_CODES = auth_route(permission=Permission.MANAGE_OWN_ACCOUNT)
"""Codes cost money and can be guessed: these routes are limited per IP like sign-in."""


def _notification_id(text: str) -> UUID:
    """A notification id from the path; an id that cannot exist is simply not found."""
    try:
        return UUID(text)
    except ValueError:
        raise NotFoundError("not found", field="notification") from None


class NotificationsController(Controller):
    """The caller's notifications; nobody sees or marks another user's."""

    path = "/api/notifications"
    tags = ["notifications"]  # noqa: RUF012 - Litestar reads this class attribute

    @get("/", summary="List notifications", responses=error_responses())
    @inject
    async def list_notifications(
        self,
        request: AnyRequest,
        list_notifications: FromDishka[ListNotifications],
        *,
        limit: PageLimit = None,
        offset: PageOffset = None,
        unread: bool = Parameter(default=False),
    ) -> NotificationsResponse:
        """Newest first; `unread=true` keeps only the unread ones."""
        page = await list_notifications(
            ListNotificationsCommand(
                recipient=required_identity(request).user_id,
                page=PageRequest.of(limit=limit, offset=offset),
                unread_only=unread,
            )
        )
        return NotificationsResponse(
            notifications=[Notification.of(notification_document(item)) for item in page.items],
            notifications_count=page.total,
        )

    @get("/unread-count", summary="Count unread notifications", responses=error_responses())
    @inject
    async def unread_count(
        self, request: AnyRequest, count_unread: FromDishka[CountUnreadNotifications]
    ) -> UnreadCountResponse:
        """The badge number."""
        return UnreadCountResponse(
            unread_count=await count_unread(required_identity(request).user_id)
        )

    @post(
        "/{notification_id:str}/read",
        status_code=HTTP_200_OK,
        summary="Mark one read",
        responses=error_responses(
            not_found="None of the caller's notifications has this id.",
            conflict=WRITE_CONFLICT,
        ),
    )
    @inject
    async def mark_read(
        self,
        request: AnyRequest,
        notification_id: FromPath[str],
        mark_read: FromDishka[MarkNotificationsRead],
    ) -> NotificationResponse:
        """404 when it does not exist or is someone else's."""
        marked = await mark_read(
            MarkNotificationsReadCommand(
                recipient=required_identity(request).user_id,
                notification_ids=[_notification_id(notification_id)],
                require_all=True,
            )
        )
        return NotificationResponse(notification=Notification.of(notification_document(marked[0])))

    @post(
        "/read-all",
        status_code=HTTP_200_OK,
        summary="Mark all read",
        responses=error_responses(conflict=WRITE_CONFLICT),
    )
    @inject
    async def mark_all_read(
        self,
        request: AnyRequest,
        mark_all_read: FromDishka[MarkAllNotificationsRead],
        count_unread: FromDishka[CountUnreadNotifications],
    ) -> MarkedResponse:
        """How many were unread, and how many are now (those that arrived meanwhile)."""
        user_id = required_identity(request).user_id
        marked = await mark_all_read(user_id)
        return MarkedResponse(marked=marked, unread_count=await count_unread(user_id))

    @post(
        "/live-ticket",
        status_code=HTTP_201_CREATED,
        summary="A ticket to open /ws with",
        responses=error_responses(unavailable="The cache that keeps tickets is unreachable."),
    )
    @inject
    async def live_ticket(
        self, request: AnyRequest, tickets: FromDishka[LiveTickets]
    ) -> LiveTicketResponse:
        """Single use, within `expiresIn` seconds: ``/ws?ticket=...`` is authenticated at once.

        503 with Retry-After when the cache that keeps tickets is unreachable.
        """
        try:
            ticket = await tickets.issue(presented_token(request))
        except TicketUnavailableError:
            raise DependencyUnavailableError(
                "live tickets are unavailable; retry later", field="ticket"
            ) from None
        return LiveTicketResponse(ticket=ticket, expires_in=tickets.ttl_seconds)

    @get("/preferences", summary="Read notification preferences", responses=error_responses())
    @inject
    async def preferences(
        self, request: AnyRequest, get_preferences: FromDishka[GetNotificationPreferences]
    ) -> PreferencesResponse:
        """Every kind and channel, defaults included."""
        return PreferencesResponse.of(await get_preferences(required_identity(request).user_id))

    @put(
        "/preferences",
        summary="Change notification preferences",
        responses=error_responses(conflict=WRITE_CONFLICT),
    )
    @inject
    async def update_preferences(
        self,
        request: AnyRequest,
        data: JSONBody[PreferencesBody],
        update_preferences: FromDishka[UpdateNotificationPreferences],
    ) -> PreferencesResponse:
        """Flip the switches given; 422 for an unknown kind or channel."""
        updated = await update_preferences(
            UpdateNotificationPreferencesCommand(
                user_id=required_identity(request).user_id, changes=data.preferences
            )
        )
        return PreferencesResponse.of(updated)


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
        responses=error_responses(
            forbidden="The endpoint's host is not a push service on `PUSH_ALLOWED_HOSTS`.",
            conflict=WRITE_CONFLICT,
        ),
    )
    @inject
    async def subscribe(
        self,
        request: AnyRequest,
        data: JSONBody[PushSubscriptionBody],
        subscribe: FromDishka[SubscribeToPush],
    ) -> PushSubscriptionBody:
        """Store the browser's subscription; subscribing again replaces it."""
        await subscribe(
            SubscribeToPushCommand(
                user_id=required_identity(request).user_id,
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
        responses=error_responses(conflict=WRITE_CONFLICT),
    )
    @inject
    async def unsubscribe(
        self,
        request: AnyRequest,
        data: JSONBody[PushUnsubscribeBody],
        unsubscribe: FromDishka[UnsubscribeFromPush],
    ) -> None:
        """Forget the caller's subscription at that endpoint; harmless if there is none."""
        await unsubscribe(
            UnsubscribeFromPushCommand(
                user_id=required_identity(request).user_id, endpoint=data.endpoint
            )
        )


class PhoneController(Controller):
    """The caller's phone number: SMS goes only to a number proven by a code."""

    path = "/api/user/phone"
    tags = ["notifications"]  # noqa: RUF012 - Litestar reads this class attribute

    @get("/", summary="Read the phone number", responses=error_responses())
    @inject
    async def phone(
        self, request: AnyRequest, get_phone: FromDishka[GetPhoneNumber]
    ) -> PhoneResponse:
        """Masked, with whether it is verified; null when none was given."""
        return PhoneResponse.of(await get_phone(required_identity(request).user_id))

    @put(
        "/",
        opt=_PHONE_CODES,
        summary="Set the phone number and text it a code",
        responses=error_responses(
            conflict=WRITE_CONFLICT,
            too_many_requests="Too many codes for this account, this client or this number.",
            unavailable="The hourly budget of texts is spent, or its store is unreachable.",
        ),
    )
    @inject
    async def set_phone(
        self,
        request: AnyRequest,
        data: JSONBody[PhoneBody],
        set_phone: FromDishka[SetPhoneNumber],
        limits: FromDishka[EdgeRateLimits],
    ) -> PhoneResponse:
        """Unverified until the code comes back; calling again resends a code.

        Codes are limited per account, per client IP and per number (429), and by an hourly
        budget across all users (503 with Retry-After); a number outside the allowed
        countries is a 422 keyed ``phone``.
        """
        state = await set_phone(
            SetPhoneNumberCommand(
                user_id=required_identity(request).user_id,
                phone=data.phone,
                client_ip=limits.client_address.resolve(request),
            )
        )
        return PhoneResponse.of(state)

    @post(
        "/verify",
        status_code=HTTP_200_OK,
        opt=_PHONE_CODES,
        summary="Verify the phone number",
        responses=error_responses(
            not_found="The caller has no phone number to verify.", conflict=WRITE_CONFLICT
        ),
    )
    @inject
    async def verify(
        self,
        request: AnyRequest,
        data: JSONBody[PhoneCodeBody],
        verify_phone: FromDishka[VerifyPhoneNumber],
    ) -> PhoneResponse:
        """422 for a wrong or expired code."""
        state = await verify_phone(
            VerifyPhoneNumberCommand(user_id=required_identity(request).user_id, code=data.code)
        )
        return PhoneResponse.of(state)

    @delete(
        "/",
        status_code=HTTP_204_NO_CONTENT,
        summary="Remove the phone number",
        responses=error_responses(conflict=WRITE_CONFLICT),
    )
    @inject
    async def remove(
        self, request: AnyRequest, remove_phone: FromDishka[RemovePhoneNumber]
    ) -> None:
        """No more texts; harmless when there was no number."""
        await remove_phone(required_identity(request).user_id)
