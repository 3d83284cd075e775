"""Notification, preference, push and phone bodies, as they cross the wire.

A notification is declared once, here: the REST routes return `Notification`, and the
live channels (WebSocket and SSE) push `NewNotificationMessage` around the same struct,
encoded by `JsonNotificationEncoder`, the `NotificationEncoder` the container provides.
"""

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from msgspec import Meta

from application.notifications.ports import NotificationEncoder
from application.notifications.set_phone_number import PhoneNumberState
from domain.notifications.notification import SECURITY_KINDS, Channel, NotificationKind
from domain.notifications.notification import Notification as DomainNotification
from domain.notifications.phone import E164_PATTERN
from domain.notifications.preferences import NotificationPreferences
from domain.notifications.push import AUTH_BYTES, ENDPOINT_MAX, P256DH_BYTES
from entrypoints.http.schemas.constraints import END_OF_TEXT, stated
from entrypoints.http.schemas.users import RequestBody

Short = Annotated[str, Meta(max_length=4096)]


def _base64url(size: int) -> str:
    """The pattern of `size` bytes in unpadded base64url, padding allowed."""
    characters, remainder = divmod(size * 4, 3)
    if remainder:
        characters += 1
    padding = -characters % 4
    return rf"^[A-Za-z0-9_-]{{{characters}}}(?:={{0,{padding}}}){END_OF_TEXT}"


_HOST_LABEL_TAIL = "(?:[a-z0-9_-]{0,46}[a-z0-9])?"
_HOST_LABEL = f"[a-z0-9]{_HOST_LABEL_TAIL}"
"""A DNS label the endpoint check accepts; short enough that five stay within 253."""

PushEndpoint = Annotated[
    str,
    Meta(
        max_length=ENDPOINT_MAX,
        extra_json_schema=stated(
            pattern=rf"^https://(?:{_HOST_LABEL}\.){{1,4}}[a-z]{_HOST_LABEL_TAIL}"
            rf"(?:[/?#][!-\[\]-~]*)?{END_OF_TEXT}"
        ),
        description="The push service's https URL, ASCII, with no port, user or backslash. "
        "Its host must be one of the push "
        "services the operator allows (PUSH_ALLOWED_HOSTS) and resolve to public addresses: "
        "422 keyed `endpoint` otherwise.",
    ),
]
P256dhKey = Annotated[
    str,
    Meta(
        max_length=4096,
        extra_json_schema=stated(pattern=_base64url(P256DH_BYTES)),
        description=f"The browser's P-256 public key: {P256DH_BYTES} bytes, base64url.",
    ),
]
AuthSecret = Annotated[
    str,
    Meta(
        max_length=4096,
        extra_json_schema=stated(pattern=_base64url(AUTH_BYTES)),
        description=f"The browser's auth secret: {AUTH_BYTES} bytes, base64url.",
    ),
]


def _preferences_schema() -> dict[str, Any]:
    """Every kind and channel by name; the email of a security kind can only stay on."""

    def switches(kind: NotificationKind) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                channel.value: {"type": "boolean", "enum": [True]}
                if kind in SECURITY_KINDS and channel is Channel.EMAIL
                else {"type": "boolean"}
                for channel in Channel
            },
        }

    return stated(
        properties={kind.value: switches(kind) for kind in NotificationKind},
        additional_properties=False,
    )


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
    def of(cls, notification: DomainNotification) -> "Notification":
        """What the recipient sees of a stored notification, over REST and live alike."""
        data = dict(notification.data)
        actor_username = data.get("actor_username")
        return cls(
            id=str(notification.id),
            kind=notification.kind.value,
            actor=None if actor_username is None else NotificationActor(username=actor_username),
            subject=_public_subject(notification),
            data=data,
            created_at=_timestamp(notification.created_at),
            read_at=None if notification.read_at is None else _timestamp(notification.read_at),
        )


def _public_subject(notification: DomainNotification) -> NotificationSubject:
    """The subject as clients see it: a user by username, never by internal id.

    Notifications stored before users were named by username carry the id; they show the
    actor's username instead (empty when there is none), so no stored row leaks an id.
    """
    subject = notification.subject
    if subject.type == "user" and _is_uuid(subject.id):
        return NotificationSubject(type="user", id=notification.data.get("actor_username", ""))
    return NotificationSubject(type=subject.type, id=subject.id)


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True


def _timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with ``Z``, as the rest of the API writes times."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


NEW_NOTIFICATION = "new_notification"
"""The type of the live message announcing a notification, and the SSE event's name."""


class NewNotificationMessage(msgspec.Struct, tag_field="type", tag=NEW_NOTIFICATION):
    """``{"type": "new_notification", "data": {...}}``: what a WebSocket receives."""

    data: Notification


class JsonNotificationEncoder(NotificationEncoder):
    """The live messages as compact UTF-8 JSON, from the structs the REST routes return."""

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder()

    def new_notification(self, notification: DomainNotification) -> bytes:
        """One `NewNotificationMessage`, encoded once for every connection in the room."""
        return self._encoder.encode(NewNotificationMessage(data=Notification.of(notification)))


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


class PreferencesBody(RequestBody):
    """``{"preferences": {kind: {channel: bool}}}``: only the switches given change."""

    preferences: Annotated[
        dict[str, dict[str, bool]],
        Meta(max_length=64, extra_json_schema=_preferences_schema()),
    ]


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


class PushKeys(RequestBody):
    """The browser's public key and auth secret, base64url."""

    p256dh: P256dhKey
    auth: AuthSecret


class PushSubscriptionBody(RequestBody, rename="camel"):
    """A browser's `PushSubscription.toJSON()`; `expirationTime` is accepted and ignored.

    Closed like every request body: the Push API's `PushSubscriptionJSON` has these three
    members and no other, and a field the server would drop unread is a client's mistake.
    """

    endpoint: PushEndpoint
    keys: PushKeys
    expiration_time: int | float | None = None


class PushUnsubscribeBody(RequestBody):
    """Which subscription to forget."""

    endpoint: Short


class VapidKeyResponse(msgspec.Struct, kw_only=True, rename="camel"):
    """The server's public key, the `applicationServerKey` of `pushManager.subscribe`."""

    public_key: str | None


class PhoneBody(RequestBody):
    """A phone number in international form."""

    phone: Annotated[
        str,
        Meta(
            max_length=64,
            extra_json_schema=stated(pattern=E164_PATTERN.pattern),
            description="E.164: '+', the country calling code and the number, 8 to 15 digits "
            "in all. Spaces, dots, dashes and parentheses are accepted too and removed. A "
            "calling code outside SMS_ALLOWED_CALLING_CODES is a 422 keyed `phone`.",
        ),
    ]


class PhoneCodeBody(RequestBody):
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
