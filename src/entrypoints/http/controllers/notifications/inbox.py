"""The caller's notifications: list them, count the unread, mark them read."""

from uuid import UUID

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, get, post
from litestar.params import FromPath, Parameter
from litestar.status_codes import HTTP_200_OK

from application.articles.pagination import PageRequest
from application.common.errors import NotFoundError
from application.notifications.count_unread_notifications import CountUnreadNotifications
from application.notifications.list_notifications import (
    ListNotifications,
    ListNotificationsCommand,
)
from application.notifications.mark_all_notifications_read import MarkAllNotificationsRead
from application.notifications.mark_notifications_read import (
    MarkNotificationsRead,
    MarkNotificationsReadCommand,
)
from entrypoints.http.auth import Actor
from entrypoints.http.openapi import WRITE_CONFLICT, described_by, error_responses
from entrypoints.http.schemas.notifications import (
    MarkedResponse,
    Notification,
    NotificationResponse,
    NotificationsResponse,
    UnreadCountResponse,
)
from entrypoints.http.schemas.pagination import PageLimit, PageOffset


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

    @get(
        "/",
        summary="List notifications",
        description=described_by(ListNotifications),
        responses=error_responses(),
    )
    @inject
    async def list_notifications(
        self,
        actor: Actor,
        list_notifications: FromDishka[ListNotifications],
        *,
        limit: PageLimit = None,
        offset: PageOffset = None,
        unread: bool = Parameter(default=False, description="Only the unread ones."),
    ) -> NotificationsResponse:
        page = await list_notifications(
            ListNotificationsCommand(
                recipient=actor.user_id,
                page=PageRequest.of(limit=limit, offset=offset),
                unread_only=unread,
            )
        )
        return NotificationsResponse(
            notifications=[Notification.of(item) for item in page.items],
            notifications_count=page.total,
        )

    @get(
        "/unread-count",
        summary="Count unread notifications",
        description=described_by(CountUnreadNotifications),
        responses=error_responses(),
    )
    @inject
    async def unread_count(
        self, actor: Actor, count_unread: FromDishka[CountUnreadNotifications]
    ) -> UnreadCountResponse:
        return UnreadCountResponse(unread_count=await count_unread(actor.user_id))

    @post(
        "/{notification_id:str}/read",
        status_code=HTTP_200_OK,
        summary="Mark one read",
        description=described_by(MarkNotificationsRead),
        responses=error_responses(
            not_found="None of the caller's notifications has this id.",
            conflict=WRITE_CONFLICT,
        ),
    )
    @inject
    async def mark_read(
        self,
        actor: Actor,
        notification_id: FromPath[str],
        mark_read: FromDishka[MarkNotificationsRead],
    ) -> NotificationResponse:
        marked = await mark_read(
            MarkNotificationsReadCommand(
                recipient=actor.user_id,
                notification_ids=[_notification_id(notification_id)],
                require_all=True,
            )
        )
        return NotificationResponse(notification=Notification.of(marked[0]))

    @post(
        "/read-all",
        status_code=HTTP_200_OK,
        summary="Mark all read",
        description=described_by(MarkAllNotificationsRead),
        response_description=(
            "How many were unread and are now read, and how many are unread now: those "
            "that arrived meanwhile."
        ),
        responses=error_responses(conflict=WRITE_CONFLICT),
    )
    @inject
    async def mark_all_read(
        self,
        actor: Actor,
        mark_all_read: FromDishka[MarkAllNotificationsRead],
        count_unread: FromDishka[CountUnreadNotifications],
    ) -> MarkedResponse:
        marked = await mark_all_read(actor.user_id)
        return MarkedResponse(marked=marked, unread_count=await count_unread(actor.user_id))
