"""The REST schema of a notification and the document the live channels push are one shape."""

import json
from datetime import UTC, datetime
from uuid import UUID

import msgspec
import pytest

from application.notifications.views import new_notification_message, notification_document
from domain.notifications.notification import Channel, Notification, NotificationKind, Subject
from domain.users.values import UserId
from entrypoints.http.schemas.notifications import Notification as NotificationSchema

NOW = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize("kind", list(NotificationKind))
@pytest.mark.parametrize("actor", [UserId(UUID(int=2)), None])
def test_the_rest_schema_carries_exactly_what_the_socket_receives(
    kind: NotificationKind, actor: UserId | None
) -> None:
    notification = Notification(
        id=UUID(int=9),
        recipient_id=UserId(UUID(int=1)),
        kind=kind,
        actor_id=actor,
        subject=Subject(type="article", id="a-1"),
        source="event-1",
        channels=frozenset({Channel.IN_APP}),
        created_at=NOW,
        data={"actor_username": "ada", "article_title": "Title"} if actor else {},
        read_at=NOW,
    )
    document = notification_document(notification)
    rest = msgspec.json.decode(msgspec.json.encode(NotificationSchema.of(document)))
    pushed = json.loads(new_notification_message(notification).payload)
    assert rest == pushed["data"] == document
    assert pushed["type"] == "new_notification"
