"""A real Kafka-protocol broker: librdkafka's mock cluster, from the confluent-kafka wheel."""

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

from confluent_kafka import Producer

_BOOTSTRAP = re.compile(r"bootstrap\.servers=(\S+?:\d+)")


class _AddressCatcher(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.address: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        match = _BOOTSTRAP.search(record.getMessage())
        if match and self.address is None:
            self.address = match[1]


@contextmanager
def kafka_mock_cluster(timeout_seconds: float = 10.0) -> Iterator[str]:
    """Start a one-broker mock cluster and yield its bootstrap address.

    The cluster lives inside the client that created it, so the client is kept until exit.
    """
    catcher = _AddressCatcher()
    log = logging.getLogger("tests.kafka_mock")
    log.addHandler(catcher)
    log.setLevel(logging.DEBUG)
    owner = Producer({"test.mock.num.brokers": 1, "debug": "mock"}, logger=log)
    deadline = time.monotonic() + timeout_seconds
    while catcher.address is None and time.monotonic() < deadline:
        owner.poll(0.1)
    if catcher.address is None:
        raise RuntimeError("the Kafka mock cluster did not report its address")
    try:
        yield catcher.address
    finally:
        owner.flush(1)
        log.removeHandler(catcher)
