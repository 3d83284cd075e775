"""Use case: switch channels on or off, per kind."""

from collections.abc import Mapping
from dataclasses import dataclass

from application.audit.capture import audited
from application.common.errors import InvalidInputError
from application.common.ports.unit_of_work import UnitOfWork
from application.notifications.ports import NotificationPreferencesRepository
from domain.notifications.notification import Channel, NotificationKind
from domain.notifications.preferences import NotificationPreferences
from domain.users.values import UserId


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateNotificationPreferencesCommand:
    """Whose, and the switches to flip: kind name -> channel name -> on or off."""

    user_id: UserId
    changes: Mapping[str, Mapping[str, bool]]


@audited(
    "notification.preferences_update",
    target="notification_preferences",
    target_id=lambda command: command.user_id,
)
class UpdateNotificationPreferences:
    """Change some switches and keep the rest.

    Rules:
    - An unknown kind or channel is `InvalidInputError` naming it, and nothing changes.
    - The email of a security kind (new sign-in, password changed) stays on.
    """

    def __init__(self, uow: UnitOfWork, preferences: NotificationPreferencesRepository) -> None:
        self._uow = uow
        self._preferences = preferences

    async def __call__(
        self, command: UpdateNotificationPreferencesCommand
    ) -> NotificationPreferences:
        """The preferences after the change."""
        changes = _parse(command.changes)
        async with self._uow:
            current = await self._preferences.get(command.user_id, for_update=True)
            updated = current.changed(changes)
            await self._preferences.save(command.user_id, updated)
            await self._uow.commit()
        return updated


def _parse(
    changes: Mapping[str, Mapping[str, bool]],
) -> dict[NotificationKind, dict[Channel, bool]]:
    kinds = {kind.value: kind for kind in NotificationKind}
    channels = {channel.value: channel for channel in Channel}
    parsed: dict[NotificationKind, dict[Channel, bool]] = {}
    for kind_name, switches in changes.items():
        if kind_name not in kinds:
            raise InvalidInputError(
                f"has no kind {kind_name!r}; the kinds are {', '.join(kinds)}", field="preferences"
            )
        parsed[kinds[kind_name]] = {}
        for channel_name, enabled in switches.items():
            if channel_name not in channels:
                raise InvalidInputError(
                    f"has no channel {channel_name!r}; the channels are {', '.join(channels)}",
                    field="preferences",
                )
            parsed[kinds[kind_name]][channels[channel_name]] = enabled
    return parsed
