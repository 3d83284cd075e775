import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from loguru import logger

from entrypoints.logs import configure_logging


@pytest.fixture
def sink() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    yield buffer
    configure_logging(level="INFO", json_format=False)


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_json_format_writes_one_object_per_line_with_the_request_id(sink: io.StringIO) -> None:
    configure_logging(level="INFO", json_format=True, sink=sink)
    with logger.contextualize(request_id="req-1"):
        logger.info("hello {who}", who="world")
    (record,) = lines(sink)
    assert record["message"] == "hello world"
    assert record["level"] == "INFO"
    assert record["request_id"] == "req-1"
    assert record["extra"] == {"who": "world"}


def test_standard_library_logging_is_routed_into_loguru(sink: io.StringIO) -> None:
    configure_logging(level="INFO", json_format=True, sink=sink)
    logging.getLogger("some.library").warning("careful: %s", "thing")
    (record,) = lines(sink)
    assert record["logger"] == "some.library"
    assert record["message"] == "careful: thing"
    assert record["level"] == "WARNING"


def test_configured_secrets_never_reach_the_log(sink: io.StringIO) -> None:
    secret = "x" * 40
    configure_logging(level="INFO", json_format=True, sink=sink, secrets=[secret, "pg-pass"])
    logger.info("token {} and dsn postgresql://u:pg-pass@db/app", secret)
    logging.getLogger("lib").error("failed with %s", secret)

    def fail() -> None:
        raise RuntimeError(f"boom {secret}")

    try:
        fail()
    except RuntimeError:
        logger.exception("crashed")
    output = sink.getvalue()
    assert secret not in output
    assert "pg-pass" not in output
    assert output.count("***") >= 4


def test_text_format_is_readable_and_carries_the_request_id(sink: io.StringIO) -> None:
    configure_logging(level="DEBUG", json_format=False, sink=sink)
    with logger.contextualize(request_id="req-9"):
        logger.debug("plain words")
    line = sink.getvalue().strip()
    assert "DEBUG" in line
    assert "req-9" in line
    assert line.endswith("plain words")


def test_level_filters_lower_records(sink: io.StringIO) -> None:
    configure_logging(level="WARNING", json_format=True, sink=sink)
    logger.info("hidden")
    logger.warning("shown")
    assert [r["message"] for r in lines(sink)] == ["shown"]


def test_text_format_scrubs_secrets_from_tracebacks(sink: io.StringIO) -> None:
    configure_logging(level="INFO", json_format=False, sink=sink, secrets=["tr4ceback-secret"])

    def fail() -> None:
        raise RuntimeError("bad tr4ceback-secret")

    try:
        fail()
    except RuntimeError:
        logger.exception("failed")
    output = sink.getvalue()
    assert "Traceback" in output
    assert "tr4ceback-secret" not in output


def test_stdlib_records_point_at_their_caller(sink: io.StringIO) -> None:
    configure_logging(level="INFO", json_format=True, sink=sink)
    logging.getLogger("caller.check").warning("where am I")
    (record,) = lines(sink)
    assert record["location"].startswith("tests.unit.test_logging:")
