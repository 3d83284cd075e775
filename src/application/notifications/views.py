"""How a notification looks to its recipient: one document for REST, WebSocket and SSE."""

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from application.common.ports.realtime import RoomMessage
from domain.notifications.notification import Notification
from domain.users.values import UserId

NEW_NOTIFICATION = "new_notification"


def notification_document(notification: Notification) -> dict[str, Any]:
    """The JSON object clients receive for a notification, with camelCase keys."""
    data = dict(notification.data)
    actor_username = data.get("actor_username")
    return {
        "id": str(notification.id),
        "kind": notification.kind.value,
        "actor": None if actor_username is None else {"username": actor_username},
        "subject": _public_subject(notification),
        "data": data,
        "createdAt": _timestamp(notification.created_at),
        "readAt": None if notification.read_at is None else _timestamp(notification.read_at),
    }


def _public_subject(notification: Notification) -> dict[str, str | None]:
    """The subject as clients see it: a user by username, never by internal id.

    Notifications stored before users were named by username carry the id; they show the
    actor's username instead (None when there is none), so no stored row leaks an id.
    """
    subject = notification.subject
    if subject.type == "user" and _is_uuid(subject.id):
        return {"type": "user", "id": notification.data.get("actor_username")}
    return {"type": subject.type, "id": subject.id}


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True


def user_room(user_id: UserId) -> str:
    """The realtime room holding every live connection of one user."""
    return f"user:{user_id}"


def new_notification_message(notification: Notification) -> RoomMessage:
    """The live message announcing a notification to its recipient's connections.

    It is encoded once here and forwarded unchanged to every socket and stream, so a
    fan-out to many connections costs no encoding per connection.
    """
    body = {"type": NEW_NOTIFICATION, "data": notification_document(notification)}
    return RoomMessage(
        room=user_room(notification.recipient_id),
        payload=json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(),
    )


def _timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with ``Z``, as the rest of the API writes times."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
