"""The consumer registry: which handler reacts to which event, declared with a decorator.

A handler is one async function. Its first parameter receives the event; every other
parameter is resolved by its type annotation (a use case, a port) for each message:

    @consumers.on_event("article.published", consumer="notify-followers")
    async def notify_followers(event: ReceivedEvent, notify: NotifyFollowers) -> None:
        await notify(NotifyFollowersCommand(article_id=event.aggregate_id))

Another service's topic is subscribed with `on_topic`; its messages reach the handler as
events of type `<topic>`.
"""

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_type_hints

Handler = Callable[..., Awaitable[None]]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceivedEvent:
    """An event as a consumer receives it from the bus."""

    event_id: str
    event_type: str
    aggregate_type: str
    aggregate_id: str
    occurred_at: datetime
    payload: Mapping[str, Any]
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    """One handler, the name it deduplicates under, and the types it needs resolved."""

    consumer: str
    handler: Handler
    dependencies: Mapping[str, type[Any]]


class ConsumerRegistry:
    """Maps event types (ours) and topics (other services') to handlers."""

    def __init__(self) -> None:
        self._by_event: dict[str, list[Subscription]] = {}
        self._external_topics: dict[str, list[Subscription]] = {}
        self._names: set[str] = set()

    def on_event(self, *event_types: str, consumer: str) -> Callable[[Handler], Handler]:
        """Register the decorated function for events of these types."""
        return self._register(self._by_event, event_types, consumer)

    def on_topic(self, topic: str, *, consumer: str) -> Callable[[Handler], Handler]:
        """Register the decorated function for every message of another service's topic."""
        return self._register(self._external_topics, (topic,), consumer)

    def for_event(self, event_type: str) -> list[Subscription]:
        """The subscriptions an event of this type goes to."""
        return list(self._by_event.get(event_type, ()))

    def for_topic(self, topic: str) -> list[Subscription]:
        """The subscriptions of an external topic."""
        return list(self._external_topics.get(topic, ()))

    @property
    def event_types(self) -> frozenset[str]:
        """Every event type some handler wants."""
        return frozenset(self._by_event)

    @property
    def external_topics(self) -> frozenset[str]:
        """Every external topic some handler wants."""
        return frozenset(self._external_topics)

    def _register(
        self, table: dict[str, list[Subscription]], keys: tuple[str, ...], consumer: str
    ) -> Callable[[Handler], Handler]:
        if not keys:
            raise ValueError("name at least one event type or topic")
        if consumer in self._names:
            raise ValueError(f"consumer name {consumer!r} is already registered")

        def register(handler: Handler) -> Handler:
            if not inspect.iscoroutinefunction(handler):
                raise TypeError(f"{handler.__qualname__} must be an async function")
            hints = get_type_hints(handler)
            parameters = list(inspect.signature(handler).parameters)
            if not parameters:
                raise TypeError(f"{handler.__qualname__} must take the event first")
            missing = [name for name in parameters[1:] if name not in hints]
            if missing:
                raise TypeError(f"{handler.__qualname__}: annotate {', '.join(missing)}")
            subscription = Subscription(
                consumer=consumer,
                handler=handler,
                dependencies={name: hints[name] for name in parameters[1:]},
            )
            self._names.add(consumer)
            for key in keys:
                table.setdefault(key, []).append(subscription)
            return handler

        return register


consumers = ConsumerRegistry()
"""The application's registry; handler modules register on it when they are imported."""
