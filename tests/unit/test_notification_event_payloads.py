"""The notification handlers' typed payloads read the events as the outbox writes them."""

import dataclasses
import json
from datetime import UTC, datetime
from uuid import UUID

import pytest

from adapters.inprocess.event_bus import received
from application.common.outbox import OutboxMessage
from application.events.received_event import ReceivedEvent
from application.notifications.event_payloads import (
    ArticleActivity,
    ArticleFavoritedPayload,
    ArticlePublishedPayload,
    CommentAddedPayload,
    EventPayload,
    PasswordChangedPayload,
    UserFollowedPayload,
    UserSignedInPayload,
)
from domain.articles.events import ArticleFavorited, ArticlePublished, CommentAdded
from domain.shared.events import DomainEvent
from domain.users.events import PasswordChanged, UserFollowed, UserSignedIn
from domain.users.values import UserId

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ADA = UserId(UUID(int=1))
BOB = UserId(UUID(int=2))

EVENTS: list[tuple[type[EventPayload], DomainEvent]] = [
    (
        UserFollowedPayload,
        UserFollowed(aggregate_id=str(ADA), occurred_at=AT, followee_id=str(BOB)),
    ),
    (
        ArticlePublishedPayload,
        ArticlePublished(
            aggregate_id="article-7",
            occurred_at=AT,
            author_id=str(ADA),
            slug="dragons",
            title="Dragons",
            tags=("dragons",),
        ),
    ),
    (
        CommentAddedPayload,
        CommentAdded(
            aggregate_id="comment-1",
            occurred_at=AT,
            article_id="article-7",
            article_author_id=str(ADA),
            author_id=str(BOB),
            article_slug="dragons",
            article_title="Dragons",
        ),
    ),
    (
        ArticleFavoritedPayload,
        ArticleFavorited(
            aggregate_id="article-7",
            occurred_at=AT,
            author_id=str(ADA),
            user_id=str(BOB),
            slug="dragons",
            title="Dragons",
        ),
    ),
    (
        UserSignedInPayload,
        UserSignedIn(
            aggregate_id=str(ADA),
            occurred_at=AT,
            session_id="s-9",
            device="Firefox",
            ip="203.0.113.9",
        ),
    ),
    (PasswordChangedPayload, PasswordChanged(aggregate_id=str(ADA), occurred_at=AT)),
]


def over_the_wire(event: DomainEvent) -> ReceivedEvent:
    """The event as a consumer receives it, its payload through JSON as the bus carries it."""
    sent = received(OutboxMessage(event_id=UUID(int=99), event=event, request_id=None))
    return dataclasses.replace(sent, payload=json.loads(json.dumps(sent.payload)))


@pytest.mark.parametrize(("payload_type", "event"), EVENTS)
def test_each_payload_reads_its_event_field_by_field(
    payload_type: type[EventPayload], event: DomainEvent
) -> None:
    assert payload_type.event_type == event.event_type
    payload = payload_type.from_event(over_the_wire(event))
    for item in dataclasses.fields(payload):
        wire_name = "aggregate_id" if item.name == payload_type.aggregate else item.name
        expected = getattr(event, wire_name)
        assert str(getattr(payload, item.name)) == expected, item.name
        assert isinstance(getattr(payload, item.name), UserId) == (item.type is UserId)


def test_the_article_payloads_name_the_actor_and_the_article() -> None:
    published = ArticlePublishedPayload.from_event(over_the_wire(EVENTS[1][1]))
    comment = CommentAddedPayload.from_event(over_the_wire(EVENTS[2][1]))
    favorited = ArticleFavoritedPayload.from_event(over_the_wire(EVENTS[3][1]))
    activities = [published.activity, comment.activity, favorited.activity]
    assert activities == [
        ArticleActivity(actor=ADA, article_id="article-7", title="Dragons", slug="dragons"),
        ArticleActivity(actor=BOB, article_id="article-7", title="Dragons", slug="dragons"),
        ArticleActivity(actor=BOB, article_id="article-7", title="Dragons", slug="dragons"),
    ]


def test_an_older_event_without_the_later_fields_gets_their_defaults() -> None:
    older = ReceivedEvent(
        event_id="e-1",
        event_type="user.signed_in",
        aggregate_type="user",
        aggregate_id=str(ADA),
        occurred_at=AT,
        payload={"session_id": "s-9"},
    )
    assert UserSignedInPayload.from_event(older) == UserSignedInPayload(
        user_id=ADA, session_id="s-9", device="unknown", ip="unknown"
    )


def test_a_missing_required_field_is_a_key_error() -> None:
    broken = dataclasses.replace(over_the_wire(EVENTS[0][1]), payload={})
    with pytest.raises(KeyError):
        UserFollowedPayload.from_event(broken)
