"""The W3C trace context as text: what an outbox row, a Kafka header and a log line carry."""

from collections.abc import Iterable

from opentelemetry.context import Context
from opentelemetry.trace import Span, get_current_span, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from adapters.opentelemetry.switch import TRACING

TRACEPARENT = "traceparent"
"""The header (and outbox column) that carries the trace context."""

_W3C = TraceContextTextMapPropagator()


def current_traceparent() -> str | None:
    """The traceparent of the span in progress; None when tracing is off or none is."""
    if TRACING.tracer is None:
        return None
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get(TRACEPARENT)


def traceparent_of(span: Span) -> str | None:
    """The traceparent that makes `span` the parent of the spans that continue from it."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier, context=set_span_in_context(span))
    return carrier.get(TRACEPARENT)


def continued_from(traceparent: str | None) -> Context:
    """The context a span continuing `traceparent` starts in; a new trace when it is absent.

    A malformed value starts a new trace too: it came from a row or a header, and a bad
    one must not fail the event it travels with.
    """
    if not traceparent:
        return Context()
    return _W3C.extract({TRACEPARENT: traceparent})


def current_trace_ids() -> tuple[str, str] | None:
    """The trace id and span id of the span in progress, as hex; None when there is none."""
    if TRACING.tracer is None:
        return None
    context = get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def header_value(
    headers: Iterable[tuple[str, bytes]] | None, name: str = TRACEPARENT
) -> str | None:
    """The value of header `name` among Kafka-style ``(name, bytes)`` pairs, if any."""
    for key, value in headers or ():
        if key == name:
            return value.decode("ascii", errors="replace")
    return None
