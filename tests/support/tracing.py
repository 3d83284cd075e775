"""Tracing switched on inside a test, with spans kept in memory by the real SDK."""

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from adapters.opentelemetry.setup import use_tracer


class FinishedSpans:
    """The spans ended while tracing was on, and the tracer that made them."""

    def __init__(self, tracer: Tracer, exporter: InMemorySpanExporter) -> None:
        self.tracer = tracer
        self._exporter = exporter

    def all(self) -> list[ReadableSpan]:
        """Every span ended so far, in the order they ended."""
        return list(self._exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        """The ended spans called `name`."""
        return [span for span in self.all() if span.name == name]

    def clear(self) -> None:
        """Forget the spans ended so far."""
        self._exporter.clear()


@contextmanager
def tracing_on() -> Iterator[FinishedSpans]:
    """Switch this process's tracing hooks on for the block; off again after it."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests")
    use_tracer(tracer)
    try:
        yield FinishedSpans(tracer, exporter)
    finally:
        use_tracer(None)
        provider.shutdown()
