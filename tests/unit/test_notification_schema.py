"""The REST schema of a notification and the document the live channels push are one shape."""

import json
from datetime import UTC, datetime
from uuid import UUID

import msgspec
import pytest

from application.notifications.ports import NotificationEncoder
from domain.notifications.notification import Channel, Notification, NotificationKind, Subject
from domain.users.values import UserId
from entrypoints.http.schemas.notifications import JsonNotificationEncoder
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
    rest = msgspec.json.decode(msgspec.json.encode(NotificationSchema.of(notification)))
    pushed = json.loads(JsonNotificationEncoder().new_notification(notification))
    assert rest == pushed["data"]
    assert pushed["type"] == "new_notification"


def test_the_live_message_is_compact_utf8_json_in_a_fixed_key_order() -> None:
    encoder: NotificationEncoder = JsonNotificationEncoder()
    notification = Notification(
        id=UUID(int=9),
        recipient_id=UserId(UUID(int=1)),
        kind=NotificationKind.NEW_ARTICLE,
        actor_id=UserId(UUID(int=2)),
        subject=Subject(type="article", id="a-1"),
        source="event-1",
        channels=frozenset({Channel.IN_APP}),
        created_at=NOW,
        data={"actor_username": "émile", "article_title": 'Say "hi"\n'},
    )
    expected = (
        '{"type":"new_notification","data":{"id":"00000000-0000-0000-0000-000000000009",'
        '"kind":"new_article","actor":{"username":"émile"},'
        '"subject":{"type":"article","id":"a-1"},'
        '"data":{"actor_username":"émile","article_title":"Say \\"hi\\"\\n"},'
        '"createdAt":"2026-05-01T12:30:00Z","readAt":null}}'
    )
    assert encoder.new_notification(notification) == expected.encode()
