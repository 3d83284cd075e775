"""Whether this process traces: the one attribute every tracing hook reads first.

Tracing belongs to the process, like its logging: the entrypoint switches it on once
(`adapters.opentelemetry.setup.start_tracing`) before it builds anything that traces. While
it is off, a hook on a hot path (a statement, an outbox row, a log line) costs that one
attribute read and makes no span, context or SDK object.
"""

from opentelemetry.trace import Tracer


class _Switch:
    """Holds the tracer; None means tracing is off."""

    tracer: Tracer | None = None


TRACING = _Switch()
"""The process's switch: `TRACING.tracer` is the tracer to open spans with, or None."""
