"""The handler table: which handler classes react to which event types and topics.

The table is data, written out in one place (`entrypoints.worker.handlers`); nothing
registers itself by being imported. Each handler class is built by the container for each
event (`entrypoints.ioc.events`), in that event's own request scope.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from application.events.event_handler import EventHandler


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    """One handler class, and the consumer name its runs are deduplicated under."""

    consumer: str
    handler: type[EventHandler]


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """A subscription to some of our event types, or to another service's topics."""

    subscription: Subscription
    event_types: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()


def on_event(*event_types: str, consumer: str, handler: type[EventHandler]) -> Route:
    """`handler` reacts to our events of these types, deduplicated as `consumer`."""
    return Route(
        subscription=Subscription(consumer=consumer, handler=handler), event_types=event_types
    )


def on_topic(topic: str, *, consumer: str, handler: type[EventHandler]) -> Route:
    """`handler` reacts to every message of another service's topic.

    Such a message reaches it as an event whose `event_type` is the topic.
    """
    return Route(subscription=Subscription(consumer=consumer, handler=handler), topics=(topic,))


class HandlerTable:
    """Maps event types (ours) and topics (other services') to subscriptions, in order.

    Raises ValueError at construction for a route that names no event type or topic, or a
    consumer name used twice: two handlers under one name would deduplicate each other.
    """

    def __init__(self, *routes: Route) -> None:
        self._by_event: dict[str, list[Subscription]] = {}
        self._by_topic: dict[str, list[Subscription]] = {}
        names: set[str] = set()
        for route in routes:
            consumer = route.subscription.consumer
            if not (route.event_types or route.topics):
                raise ValueError(f"{consumer!r} names no event type or topic")
            if consumer in names:
                raise ValueError(f"consumer name {consumer!r} is already in the table")
            names.add(consumer)
            _add(self._by_event, route.event_types, route.subscription)
            _add(self._by_topic, route.topics, route.subscription)

    def for_event(self, event_type: str) -> list[Subscription]:
        """The subscriptions an event of this type goes to."""
        return list(self._by_event.get(event_type, ()))

    def for_topic(self, topic: str) -> list[Subscription]:
        """The subscriptions of an external topic."""
        return list(self._by_topic.get(topic, ()))

    @property
    def event_types(self) -> frozenset[str]:
        """Every event type some handler wants."""
        return frozenset(self._by_event)

    @property
    def external_topics(self) -> frozenset[str]:
        """Every external topic some handler wants."""
        return frozenset(self._by_topic)

    @property
    def handler_types(self) -> tuple[type[EventHandler], ...]:
        """Every handler class in the table, once each, for the container to provide."""
        subscriptions = [*self._by_event.values(), *self._by_topic.values()]
        found = (s.handler for subs in subscriptions for s in subs)
        return tuple(dict.fromkeys(found))


def _add(table: dict[str, list[Subscription]], keys: Iterable[str], item: Subscription) -> None:
    for key in keys:
        table.setdefault(key, []).append(item)
