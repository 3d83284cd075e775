"""An event as a consumer receives it from the bus."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceivedEvent:
    """An event as a consumer receives it from the bus.

    One of ours carries its domain event's type and payload; another service's message
    has its topic as `event_type` and its JSON object as `payload`.
    """

    event_id: str
    event_type: str
    aggregate_type: str
    aggregate_id: str
    occurred_at: datetime
    payload: Mapping[str, Any]
    request_id: str | None = None
