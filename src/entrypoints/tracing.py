"""Whether a process traces, decided by OpenTelemetry's own variables, and switching it on.

Tracing is off unless an OTLP endpoint is configured (``OTEL_EXPORTER_OTLP_ENDPOINT``, or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` for traces alone). ``OTEL_SDK_DISABLED=true`` or
``OTEL_TRACES_EXPORTER=none`` keep it off even then. Portico has no setting of its own for
it: the SDK reads every other ``OTEL_*`` variable itself (docs/observability.md), from the
environment or the `.env` file.
"""

import asyncio
import os
from collections.abc import Mapping, MutableMapping

from adapters.opentelemetry.switch import TRACING
from entrypoints.config.loader import env_file_values

OTEL_PREFIX = "OTEL_"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
API_SERVICE = "portico-api"
"""The service name of API processes when OTEL_SERVICE_NAME does not give one."""
WORKER_SERVICE = "portico-worker"
"""The service name of `portico worker` when OTEL_SERVICE_NAME does not give one."""


def tracing_requested(environ: Mapping[str, str]) -> bool:
    """Whether the environment asks for traces to be exported."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return any(environ.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def start_tracing_if_requested(service_name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Switch tracing on for this process if the environment asks for it; True if on.

    Called once per process, before its container is built; a second call changes nothing.
    ``OTEL_*`` variables in the `.env` file count as in the environment (which wins): they
    are copied into it, where the SDK reads them. The SDK is imported only here, so a
    process that does not trace never loads it.
    """
    if TRACING.tracer is not None:
        return True
    if environ is None:
        adopt_env_file_variables(os.environ)
        environ = os.environ
    if not tracing_requested(environ):
        return False
    from adapters.opentelemetry.setup import start_tracing  # noqa: PLC0415 - only when tracing

    start_tracing(service_name=service_name)
    return True


def adopt_env_file_variables(environ: MutableMapping[str, str]) -> None:
    """Copy the `.env` file's ``OTEL_*`` variables into `environ`, where it lacks them."""
    for name, value in env_file_values(environ).items():
        if name.startswith(OTEL_PREFIX) and value.strip():
            environ.setdefault(name, value)


async def flush_tracing() -> None:
    """Export what the process still holds, off the event loop; for its last shutdown step."""
    if TRACING.tracer is None:
        return
    from adapters.opentelemetry.setup import flush_spans  # noqa: PLC0415 - only when tracing

    await asyncio.to_thread(flush_spans)
