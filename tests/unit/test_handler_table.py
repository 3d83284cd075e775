"""The handler table: explicit routes from event types and topics to handler classes."""

import pytest

from application.events.event_handler import EventHandler
from application.events.received_event import ReceivedEvent
from entrypoints.worker.consumers import subscribed_topics
from entrypoints.worker.handler_table import HandlerTable, on_event, on_topic
from entrypoints.worker.handlers import EVENT_HANDLERS


class Tally(EventHandler):
    async def __call__(self, event: ReceivedEvent) -> None:
        return None


class Audit(EventHandler):
    async def __call__(self, event: ReceivedEvent) -> None:
        return None


def test_an_event_goes_to_its_handlers_in_the_order_of_the_table() -> None:
    table = HandlerTable(
        on_event("user.followed", "article.published", consumer="tally", handler=Tally),
        on_event("user.followed", consumer="audit", handler=Audit),
        on_topic("billing.user.created", consumer="link", handler=Audit),
    )
    assert [(s.consumer, s.handler) for s in table.for_event("user.followed")] == [
        ("tally", Tally),
        ("audit", Audit),
    ]
    assert [s.consumer for s in table.for_event("article.published")] == ["tally"]
    assert table.for_event("comment.added") == []
    assert [s.consumer for s in table.for_topic("billing.user.created")] == ["link"]
    assert table.event_types == {"user.followed", "article.published"}
    assert table.external_topics == {"billing.user.created"}
    assert table.handler_types == (Tally, Audit)


def test_a_consumer_name_is_used_once() -> None:
    with pytest.raises(ValueError, match="'tally' is already in the table"):
        HandlerTable(
            on_event("user.followed", consumer="tally", handler=Tally),
            on_event("article.published", consumer="tally", handler=Audit),
        )


def test_a_route_names_an_event_type_or_a_topic() -> None:
    with pytest.raises(ValueError, match="names no event type or topic"):
        HandlerTable(on_event(consumer="tally", handler=Tally))


def test_an_event_type_no_domain_event_has_stops_the_worker_at_start() -> None:
    table = HandlerTable(on_event("user.folowed", consumer="tally", handler=Tally))
    with pytest.raises(LookupError, match=r"user\.folowed"):
        subscribed_topics(table, "portico.")


def test_the_applications_handlers_listen_on_our_topics() -> None:
    assert subscribed_topics(EVENT_HANDLERS, "portico.") == {
        "portico.user",
        "portico.article",
        "portico.comment",
    }
