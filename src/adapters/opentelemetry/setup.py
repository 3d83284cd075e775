"""Switching tracing on: the OpenTelemetry SDK, exporting over OTLP/HTTP in batches."""

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from adapters.opentelemetry.sql import trace_statements
from adapters.opentelemetry.switch import TRACING

INSTRUMENTATION_NAME = "portico"
"""The instrumentation scope every span of ours is reported under."""


def start_tracing(*, service_name: str) -> TracerProvider:
    """Install the SDK for this process and switch every tracing hook on.

    Everything else is OpenTelemetry's standard configuration, read by the SDK from the
    ``OTEL_*`` environment variables: the endpoint, headers, timeout and compression of
    the exporter, the sampler, the batch processor's delays and sizes, the resource
    attributes, and the limits on attributes and events. `service_name` is the default
    that ``OTEL_SERVICE_NAME`` (or ``service.name`` in ``OTEL_RESOURCE_ATTRIBUTES``)
    overrides. Spans are exported in batches from a thread of the SDK's, never from the
    event loop; the provider flushes what it holds when the process exits.
    """
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service_name}))
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    use_tracer(provider.get_tracer(INSTRUMENTATION_NAME))
    return provider


def use_tracer(tracer: trace.Tracer | None) -> None:
    """Switch the hooks on with `tracer` (tests pass their own), or off with None.

    The SQLAlchemy statement hooks are installed once for every engine, existing or
    future, and do nothing while the switch is off.
    """
    TRACING.tracer = tracer
    if tracer is not None:
        trace_statements()


def flush_spans(timeout_seconds: float = 5.0) -> None:
    """Export the spans still held, waiting at most `timeout_seconds`.

    For a process about to end: a forked server worker leaves without running the exit
    handlers that would flush them.
    """
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush(int(timeout_seconds * 1000))
