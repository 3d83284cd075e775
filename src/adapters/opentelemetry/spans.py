"""Spans around units of work: a job, an event handled, a message processed.

Each is a no-op context manager while tracing is off, and the current span inside while on,
so the statements and commands the work runs become its children. An exception leaving
the block is recorded on the span and marks it failed.
"""

import contextlib
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager

from opentelemetry.context import Context, attach, detach
from opentelemetry.trace import SpanKind, StatusCode, get_current_span
from opentelemetry.util.types import AttributeValue

from adapters.opentelemetry.propagation import continued_from
from adapters.opentelemetry.switch import TRACING

_UNTRACED: AbstractContextManager[object] = contextlib.nullcontext()


def operation(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> AbstractContextManager[object]:
    """A span named `name`, a child of the span in progress (or a new trace's root)."""
    tracer = TRACING.tracer
    if tracer is None:
        return _UNTRACED
    return tracer.start_as_current_span(name, kind=kind, attributes=attributes)


def continuation(
    name: str,
    traceparent: str | None,
    *,
    kind: SpanKind = SpanKind.CONSUMER,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> AbstractContextManager[object]:
    """A span named `name` continuing the trace another process handed over.

    `traceparent` came with the work (a Kafka header, a job's labels); without one the
    span starts a new trace, whatever span is in progress here.
    """
    tracer = TRACING.tracer
    if tracer is None:
        return _UNTRACED
    return tracer.start_as_current_span(
        name, context=continued_from(traceparent), kind=kind, attributes=attributes
    )


def note_failure(error: BaseException, *, final: bool) -> None:
    """Record a failed attempt on the span in progress; `final` marks the span failed.

    For work that catches its failures to retry them, where no exception leaves the span.
    """
    if TRACING.tracer is None:
        return
    span = get_current_span()
    span.record_exception(error)
    if final:
        span.set_attribute("error.type", type(error).__qualname__)
        span.set_status(StatusCode.ERROR, f"{type(error).__name__}: {error}"[:200])


def resumed(traceparent: str | None) -> AbstractContextManager[object]:
    """The trace `traceparent` names, current for the block, with no span of its own.

    For work handed over with a trace context, whose spans are opened further in.
    """
    if TRACING.tracer is None or not traceparent:
        return _UNTRACED
    return _attached(continued_from(traceparent))


@contextlib.contextmanager
def _attached(context: Context) -> Iterator[None]:
    token = attach(context)
    try:
        yield
    finally:
        detach(token)
