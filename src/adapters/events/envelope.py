"""The JSON envelope an event travels in on every bus, and its topic name."""

from datetime import datetime
from typing import Any

import msgspec

from application.common.outbox import OutboxMessage
from domain.shared.events import DomainEvent

SCHEMA_VERSION = 1
"""Raised only for a change that old consumers cannot read; see docs/events.md."""


class EventEnvelope(msgspec.Struct, kw_only=True, frozen=True):
    """One event on the wire: identity, type, schema version, origin, and the payload.

    `payload` holds the event's own fields (see docs/events.md for each type). Consumers
    must ignore fields they do not know, so adding a field is a compatible change.
    """

    event_id: str
    event_type: str
    schema_version: int
    aggregate_type: str
    aggregate_id: str
    occurred_at: datetime
    request_id: str | None
    payload: dict[str, Any]


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(EventEnvelope)


def event_payload(event: DomainEvent) -> dict[str, Any]:
    """The event's own fields: what the envelope carries apart from its header fields."""
    payload: dict[str, Any] = msgspec.to_builtins(event)
    for envelope_field in ("aggregate_id", "occurred_at"):
        payload.pop(envelope_field, None)
    return payload


def encode_envelope(message: OutboxMessage) -> bytes:
    """The message as envelope JSON."""
    event = message.event
    payload = event_payload(event)
    return _encoder.encode(
        EventEnvelope(
            event_id=str(message.event_id),
            event_type=event.event_type,
            schema_version=SCHEMA_VERSION,
            aggregate_type=event.aggregate_type,
            aggregate_id=event.aggregate_id,
            occurred_at=event.occurred_at,
            request_id=message.request_id,
            payload=payload,
        )
    )


def decode_envelope(data: bytes) -> EventEnvelope:
    """Read an envelope; raises `msgspec.DecodeError` (a ValueError) when it is not one."""
    return _decoder.decode(data)


def topic_for(prefix: str, aggregate_type: str) -> str:
    """One topic per aggregate type, such as ``portico.article``."""
    return f"{prefix}{aggregate_type}"


def headers_for(
    message: OutboxMessage, *, traceparent: str | None = None
) -> list[tuple[str, bytes]]:
    """The headers consumers can route and trace on without parsing the value.

    `traceparent` is the W3C trace context the event travels in, if it has one.
    """
    headers = [
        ("event_id", str(message.event_id).encode()),
        ("event_type", message.event_type.encode()),
        ("schema_version", str(SCHEMA_VERSION).encode()),
    ]
    if message.request_id:
        headers.append(("request_id", message.request_id.encode()))
    if traceparent:
        headers.append(("traceparent", traceparent.encode()))
    return headers
