"""Which kinds of notification the caller receives, and on which channels."""

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, get, put
from litestar.params import JSONBody

from application.notifications.get_notification_preferences import GetNotificationPreferences
from application.notifications.update_notification_preferences import (
    UpdateNotificationPreferences,
    UpdateNotificationPreferencesCommand,
)
from entrypoints.http.auth import Actor
from entrypoints.http.openapi import WRITE_CONFLICT, described_by, error_responses
from entrypoints.http.schemas.notifications import PreferencesBody, PreferencesResponse


class NotificationPreferencesController(Controller):
    """The caller's switches, one per kind of notification and channel."""

    path = "/api/notifications/preferences"
    tags = ["notifications"]  # noqa: RUF012 - Litestar reads this class attribute

    @get(
        summary="Read notification preferences",
        description=described_by(GetNotificationPreferences),
        responses=error_responses(),
    )
    @inject
    async def preferences(
        self, actor: Actor, get_preferences: FromDishka[GetNotificationPreferences]
    ) -> PreferencesResponse:
        return PreferencesResponse.of(await get_preferences(actor.user_id))

    @put(
        summary="Change notification preferences",
        description=described_by(UpdateNotificationPreferences),
        responses=error_responses(conflict=WRITE_CONFLICT),
    )
    @inject
    async def update_preferences(
        self,
        actor: Actor,
        data: JSONBody[PreferencesBody],
        update_preferences: FromDishka[UpdateNotificationPreferences],
    ) -> PreferencesResponse:
        updated = await update_preferences(
            UpdateNotificationPreferencesCommand(user_id=actor.user_id, changes=data.preferences)
        )
        return PreferencesResponse.of(updated)
