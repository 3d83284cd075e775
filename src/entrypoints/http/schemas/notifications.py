"""Notification, preference, push and phone bodies, as they cross the wire."""

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from application.notifications.set_phone_number import PhoneNumberState
from domain.notifications.preferences import NotificationPreferences
from entrypoints.http.schemas.users import Struct

Short = Annotated[str, Meta(max_length=4096)]


class NotificationActor(msgspec.Struct, kw_only=True):
    """Who did it."""

    username: str


class NotificationSubject(msgspec.Struct, kw_only=True):
    """What it is about: an article, a user or a session, by id."""

    type: str
    id: str


class Notification(msgspec.Struct, kw_only=True, rename="camel"):
    """A notification as clients see it; the WebSocket and SSE push the same document."""

    id: str
    kind: str
    actor: NotificationActor | None
    subject: NotificationSubject
    data: dict[str, str]
    created_at: str
    read_at: str | None

    @classmethod
    def of(cls, document: dict[str, Any]) -> "Notification":
        """From `notification_document`, which the live channels send as it is."""
        return msgspec.convert(document, cls)


class NotificationsResponse(msgspec.Struct, kw_only=True, rename="camel"):
    """A page of notifications and how many match in all."""

    notifications: list[Notification]
    notifications_count: int


class NotificationResponse(msgspec.Struct, kw_only=True):
    """One notification."""

    notification: Notification


class UnreadCountResponse(msgspec.Struct, kw_only=True, rename="camel"):
    """The number of unread notifications."""

    unread_count: int


class MarkedResponse(msgspec.Struct, kw_only=True, rename="camel"):
    """How many notifications were marked, and how many are still unread."""

    marked: int
    unread_count: int


class PreferencesBody(Struct):
    """``{"preferences": {kind: {channel: bool}}}``: only the switches given change."""

    preferences: Annotated[dict[str, dict[str, bool]], Meta(max_length=64)]


class PreferencesResponse(msgspec.Struct, kw_only=True):
    """Every kind, every channel, on or off."""

    preferences: dict[str, dict[str, bool]]

    @classmethod
    def of(cls, preferences: NotificationPreferences) -> "PreferencesResponse":
        """The full table, defaults included."""
        return cls(
            preferences={
                kind.value: {channel.value: on for channel, on in channels.items()}
                for kind, channels in preferences.as_table().items()
            }
        )


class PushKeys(Struct):
    """The browser's public key and auth secret, base64url."""

    p256dh: Short
    auth: Short


class PushSubscriptionBody(msgspec.Struct, kw_only=True, rename="camel"):
    """A browser's `PushSubscription.toJSON()`; `expirationTime` is accepted and ignored."""

    endpoint: Short
    keys: PushKeys
    expiration_time: int | float | None = None


class PushUnsubscribeBody(Struct):
    """Which subscription to forget."""

    endpoint: Short


class VapidKeyResponse(msgspec.Struct, kw_only=True, rename="camel"):
    """The server's public key, the `applicationServerKey` of `pushManager.subscribe`."""

    public_key: str | None


class PhoneBody(Struct):
    """A phone number in international form."""

    phone: Annotated[str, Meta(max_length=64)]


class PhoneCodeBody(Struct):
    """The code received by SMS."""

    code: Annotated[str, Meta(max_length=32)]


class Phone(msgspec.Struct, kw_only=True):
    """The number, masked, and whether it is verified."""

    number: str
    verified: bool


class PhoneResponse(msgspec.Struct, kw_only=True):
    """``{"phone": {...}}``, or null when none was given."""

    phone: Phone | None

    @classmethod
    def of(cls, state: PhoneNumberState | None) -> "PhoneResponse":
        """From the use case's answer."""
        if state is None:
            return cls(phone=None)
        return cls(phone=Phone(number=state.number, verified=state.verified))
