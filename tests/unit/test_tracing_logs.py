"""Log lines carry the trace and span ids of the span in progress, next to the request id."""

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from loguru import logger
from opentelemetry.sdk.trace import TracerProvider

from entrypoints.logs import configure_logging
from tests.support.tracing import FinishedSpans, tracing_on


@pytest.fixture
def sink() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    yield buffer
    configure_logging(level="INFO", json_format=False)


@pytest.fixture
def traced() -> Iterator[FinishedSpans]:
    with tracing_on() as spans:
        yield spans


def records(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_a_json_line_written_in_a_span_carries_its_trace_and_span_ids(
    sink: io.StringIO, traced: FinishedSpans
) -> None:
    configure_logging(level="INFO", json_format=True, sink=sink)
    with (
        traced.tracer.start_as_current_span("request") as span,
        logger.contextualize(request_id="req-7"),
    ):
        logger.info("inside")
        with traced.tracer.start_as_current_span("statement") as inner:
            logger.info("deeper")
    logger.info("after")
    inside, deeper, after = records(sink)
    context = span.get_span_context()
    assert inside["request_id"] == "req-7"
    assert inside["trace_id"] == f"{context.trace_id:032x}"
    assert inside["span_id"] == f"{context.span_id:016x}"
    assert deeper["trace_id"] == inside["trace_id"]
    assert deeper["span_id"] == f"{inner.get_span_context().span_id:016x}"
    assert list(inside)[list(inside).index("request_id") + 1 :][:2] == ["trace_id", "span_id"]
    assert "extra" not in inside
    assert "trace_id" not in after
    assert "span_id" not in after


def test_a_text_line_written_in_a_span_shows_the_ids_after_the_request_id(
    sink: io.StringIO, traced: FinishedSpans
) -> None:
    configure_logging(level="INFO", json_format=False, sink=sink)
    with (
        traced.tracer.start_as_current_span("request") as span,
        logger.contextualize(request_id="req-8"),
    ):
        logger.info("inside")
    logger.info("outside")
    inside, outside = sink.getvalue().splitlines()
    context = span.get_span_context()
    ids = f"req-8 trace_id={context.trace_id:032x} span_id={context.span_id:016x} "
    assert ids in inside
    assert inside.endswith(" inside")
    assert "trace_id=" not in outside
    assert outside.endswith(" outside")


def test_while_tracing_is_off_no_line_carries_ids_even_inside_another_tracers_span(
    sink: io.StringIO,
) -> None:
    configure_logging(level="INFO", json_format=True, sink=sink)
    foreign = TracerProvider().get_tracer("someone else's")
    with foreign.start_as_current_span("theirs"):
        logger.info("inside")
    (record,) = records(sink)
    assert "trace_id" not in record
    assert "span_id" not in record
