"""Tracing with OpenTelemetry: the process's tracer, and the spans each technology opens."""
