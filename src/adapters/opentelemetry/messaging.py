"""Spans for the event bus: one PRODUCER span per event sent, one CONSUMER span per event handled.

The trace crosses the bus in the W3C ``traceparent`` header: an event's outbox row holds
the context of the transaction that wrote it, the relay's span for the event continues
that context and puts its own in the header, and the consumer's span continues from the
header. While tracing is off in the relay's process the row's traceparent is passed on
as it is, so a consumer that traces still joins the request's trace.
"""

from collections.abc import Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Self

from opentelemetry.trace import Span, SpanKind, StatusCode
from opentelemetry.util.types import AttributeValue

from adapters.opentelemetry.propagation import continued_from, traceparent_of
from adapters.opentelemetry.spans import continuation
from adapters.opentelemetry.switch import TRACING
from application.common.outbox import OutboxMessage


class PublishSpans:
    """The PRODUCER spans of one batch sent to a bus, ended together when the bus answered.

    Use it as a context manager around the sending: an exception leaving the block marks
    every span of the batch failed, since the publisher's contract gives no message of a
    failed batch as delivered.
    """

    def __init__(self, *, system: str) -> None:
        self._tracer = TRACING.tracer
        self._system = system
        self._spans: list[Span] = []

    def traceparent(self, message: OutboxMessage, *, destination: str) -> str | None:
        """Start `message`'s span; return the traceparent its headers carry on."""
        if self._tracer is None:
            return message.traceparent
        attributes: dict[str, AttributeValue] = {
            "messaging.system": self._system,
            "messaging.operation.type": "send",
            "messaging.operation.name": "send",
            "messaging.destination.name": destination,
            "messaging.message.id": str(message.event_id),
            "portico.event.type": message.event_type,
        }
        if self._system == "kafka":
            attributes["messaging.kafka.message.key"] = message.event.aggregate_id
        span = self._tracer.start_span(
            f"send {destination}",
            context=continued_from(message.traceparent),
            kind=SpanKind.PRODUCER,
            attributes=attributes,
        )
        self._spans.append(span)
        return traceparent_of(span)

    def __enter__(self) -> Self:
        """Collect spans until the block ends."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """End every span, failed if the block raised."""
        for span in self._spans:
            if exc is not None:
                span.record_exception(exc)
                span.set_attribute("error.type", type(exc).__qualname__)
                span.set_status(StatusCode.ERROR, type(exc).__name__)
            span.end()
        self._spans.clear()


def processing(
    destination: str,
    *,
    system: str,
    traceparent: str | None,
    message_id: str,
    event_type: str,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> AbstractContextManager[object]:
    """The CONSUMER span of one event being handled, continuing the trace it arrived in."""
    return continuation(
        f"process {destination}",
        traceparent,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": system,
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.destination.name": destination,
            "messaging.message.id": message_id,
            "portico.event.type": event_type,
            **(attributes or {}),
        },
    )
