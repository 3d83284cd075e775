"""What the notification unit tests hand the use cases: drafts, events as a consumer
receives them, the notifications consumers of an event type, and hourly rates.
"""

from collections.abc import Mapping
from uuid import UUID

from adapters.inprocess.event_bus import received
from application.common.outbox import OutboxMessage
from application.common.ports.rate_limits import RateLimit
from application.events.received_event import ReceivedEvent
from application.notifications.notification_factory import NotificationDraft
from domain.notifications.notification import NotificationKind, Subject
from domain.shared.events import DomainEvent
from domain.users.values import UserId
from entrypoints.worker.handler_table import Subscription
from entrypoints.worker.handlers import EVENT_HANDLERS

HOUR = 3600


def draft(
    actor: UserId | None,
    *,
    kind: NotificationKind = NotificationKind.NEW_FOLLOWER,
    source: str = "event-1",
    data: Mapping[str, str] | None = None,
) -> NotificationDraft:
    defaults: dict[NotificationKind, dict[str, str]] = {
        NotificationKind.NEW_FOLLOWER: {"actor_username": "ada"},
        NotificationKind.NEW_ARTICLE: {
            "actor_username": "ada",
            "article_title": "Dragons",
            "article_slug": "dragons",
        },
        NotificationKind.NEW_COMMENT: {
            "actor_username": "ada",
            "article_title": "Dragons",
            "article_slug": "dragons",
        },
        NotificationKind.ARTICLE_FAVORITED: {
            "actor_username": "ada",
            "article_title": "Dragons",
            "article_slug": "dragons",
        },
        NotificationKind.NEW_LOGIN: {
            "device": "Firefox on Linux",
            "ip_address": "203.0.113.9",
            "signed_in_at": "2026-01-01T00:00:00+00:00",
        },
        NotificationKind.PASSWORD_CHANGED: {"changed_at": "2026-01-01T00:00:00+00:00"},
    }
    subject = (
        Subject(type="user", id=str(actor))
        if kind is NotificationKind.NEW_FOLLOWER
        else Subject(type="article", id="article-1")
    )
    return NotificationDraft(
        kind=kind,
        actor_id=actor,
        subject=subject,
        source=source,
        data=defaults[kind] if data is None else data,
    )


def notification_consumers(event_type: str) -> list[Subscription]:
    return [
        subscription
        for subscription in EVENT_HANDLERS.for_event(event_type)
        if subscription.consumer.startswith("notifications.")
    ]


def event_of(domain_event: DomainEvent, event_id: UUID) -> ReceivedEvent:
    """The event as a consumer receives it from the bus."""
    return received(OutboxMessage(event_id=event_id, event=domain_event, request_id="req-1"))


def hourly(limit: int) -> RateLimit:
    return RateLimit(limit=limit, window_seconds=HOUR)
