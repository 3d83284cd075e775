"""Tracing is switched on by OpenTelemetry's own variables, and is off without an endpoint."""

from pathlib import Path

import pytest

from adapters.opentelemetry.propagation import current_trace_ids, current_traceparent
from adapters.opentelemetry.switch import TRACING
from entrypoints.tracing import (
    adopt_env_file_variables,
    start_tracing_if_requested,
    tracing_requested,
)
from tests.support.tracing import tracing_on

ENDPOINT = "http://collector:4318"


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "portico", "OTEL_TRACES_SAMPLER": "always_on"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{ENDPOINT}/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_SDK_DISABLED": "false"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_TRACES_EXPORTER": "none"}, False),
    ],
)
def test_tracing_is_requested_by_an_otlp_endpoint_unless_switched_off(
    environ: dict[str, str], on: bool
) -> None:
    assert tracing_requested(environ) is on


def test_without_an_endpoint_nothing_is_switched_on() -> None:
    assert start_tracing_if_requested("portico-api", {}) is False
    assert TRACING.tracer is None
    assert current_traceparent() is None
    assert current_trace_ids() is None


def test_inside_a_span_the_current_context_is_its_traceparent() -> None:
    with tracing_on() as traced, traced.tracer.start_as_current_span("request") as span:
        context = span.get_span_context()
        traceparent = current_traceparent()
        assert traceparent is not None
        assert traceparent.split("-")[1:3] == [
            f"{context.trace_id:032x}",
            f"{context.span_id:016x}",
        ]
        assert len(traceparent) == 55
        assert current_trace_ids() == (f"{context.trace_id:032x}", f"{context.span_id:016x}")
        assert start_tracing_if_requested("portico-api", {}) is True
    assert TRACING.tracer is None


def test_otel_variables_in_the_env_file_count_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        f"OTEL_EXPORTER_OTLP_ENDPOINT={ENDPOINT}\n"
        "OTEL_SERVICE_NAME=from-the-file\n"
        "OTEL_TRACES_SAMPLER=\n"
        "APP_PORT=9000\n"
    )
    monkeypatch.chdir(tmp_path)
    environ = {"OTEL_SERVICE_NAME": "from-the-environment"}
    adopt_env_file_variables(environ)
    assert environ == {
        "OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT,
        "OTEL_SERVICE_NAME": "from-the-environment",
    }
    assert tracing_requested(environ)
