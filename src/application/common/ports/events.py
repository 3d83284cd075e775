"""The event bus port: puts the outbox's events before other processes and services."""

from collections.abc import Sequence
from typing import Protocol

from application.common.outbox import OutboxMessage


class EventPublishError(Exception):
    """The bus did not take the messages; nothing may be assumed delivered."""


class EventPublisher(Protocol):
    """Puts events on the bus for other processes and services.

    Contract:
    - `publish` returns only when every message is durably accepted (for Kafka: written
      with ``acks=all``), and raises `EventPublishError` otherwise, in which case any of
      them may or may not have been delivered. Callers retry, so delivery is at-least-once
      and consumers deduplicate on the event id.
    - Messages of one aggregate are delivered in the order given within one call.
    """

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Deliver every message, or raise `EventPublishError`."""
        ...
