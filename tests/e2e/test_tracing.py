"""Tracing, as an operator's collector sees it: one trace from a request to the consumer.

A real `portico serve` (relaying the outbox itself) and a real `portico worker` (consuming
from a Kafka-protocol broker) export to an OTLP/HTTP receiver started here, which decodes
the protobuf payloads. B follows A; the request's span, its SQL, the relay's send and the
worker's handling of `user.followed` must form one trace, linked parent to child through
the ``traceparent`` the outbox row and the Kafka header carried.
"""

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.kafka_cluster import kafka_mock_cluster
from tests.support.network import free_port
from tests.support.notifications import follow, portico_processes, register, wait_until_live
from tests.support.otlp import (
    CLIENT,
    CONSUMER,
    PRODUCER,
    SERVER,
    OtlpReceiver,
    ReceivedSpan,
    otlp_receiver,
)
from tests.support.server import clean_env

pytestmark = pytest.mark.e2e

FOLLOW_ROUTE = "/api/profiles/{username}/follow"
FOLLOW_HANDLER = "handle notifications.new-follower"


@pytest.fixture
def collector() -> Iterator[tuple[OtlpReceiver, str]]:
    with otlp_receiver() as running:
        yield running


@pytest.fixture
def traced_env(
    clean_database: Any,
    migrated_url: str,
    collector: tuple[OtlpReceiver, str],
    tmp_path: Path,
) -> Iterator[dict[str, str]]:
    """Service mode on Kafka, the relay in the API, every span exported at once."""
    _, endpoint = collector
    run = f"t{uuid.uuid4().hex[:10]}"
    mock_log = logging.getLogger("tests.kafka_mock")
    mock_log.propagate = False
    try:
        with kafka_mock_cluster() as bootstrap:
            yield clean_env(
                DATABASE_URL=migrated_url,
                DATA_DIR=str(tmp_path / "data"),
                JWT_SECRET="tracing-test-signing-secret-of-at-least-32-bytes",
                KAFKA_BOOTSTRAP_SERVERS=bootstrap,
                KAFKA_TOPIC_PREFIX=f"{run}.",
                KAFKA_CONSUMER_GROUP=run,
                OUTBOX_RELAY_IN_API="true",
                OUTBOX_POLL_INTERVAL_SECONDS="0.05",
                RATE_LIMIT_AUTH_PER_IP="1000",
                RATE_LIMIT_REGISTRATIONS_PER_IP="1000",
                LOG_FORMAT="json",
                OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
                OTEL_BSP_SCHEDULE_DELAY="100",
            )
    finally:
        mock_log.propagate = True


def one(spans: list[ReceivedSpan], **wanted: Any) -> ReceivedSpan:
    """The single span with these fields (`attributes` matched as a subset)."""
    attributes = wanted.pop("attributes", {})
    found = [
        span
        for span in spans
        if all(getattr(span, name) == value for name, value in wanted.items())
        and attributes.items() <= span.attributes.items()
    ]
    assert len(found) == 1, f"{len(found)} spans match {wanted} {attributes}: {spans}"
    return found[0]


def the_follow_was_handled(spans: list[ReceivedSpan]) -> bool:
    routes = [s for s in spans if s.attributes.get("http.route") == FOLLOW_ROUTE]
    traces = {span.trace_id for span in routes}
    return any(s.name == FOLLOW_HANDLER and s.trace_id in traces for s in spans)


def test_a_follow_is_one_trace_from_the_request_through_the_outbox_and_kafka_to_its_handler(
    traced_env: dict[str, str], collector: tuple[OtlpReceiver, str], tmp_path: Path
) -> None:
    receiver, _ = collector
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    topic = f"{traced_env['KAFKA_TOPIC_PREFIX']}user"
    with portico_processes(tmp_path) as processes:
        api = processes.start("serve", ["serve"], {**traced_env, "APP_PORT": str(port)})
        worker = processes.start("worker", ["worker", "--no-relay", "--no-jobs"], traced_env)
        wait_until_live(api, base_url)
        worker.wait_for_log("consuming", within=30)
        with httpx.Client(base_url=base_url, timeout=10) as client:
            author = register(client, "a")
            reader = register(client, "b")
            follow(client, reader, author)

        spans = receiver.wait_for(the_follow_was_handled, within=20)
        request = one(spans, kind=SERVER, attributes={"http.route": FOLLOW_ROUTE})
        trace = [span for span in spans if span.trace_id == request.trace_id]

        assert request.service == "portico-api"
        assert request.name == f"POST {FOLLOW_ROUTE}"
        assert request.parent_span_id == ""
        assert request.attributes["http.request.method"] == "POST"
        assert request.attributes["http.response.status_code"] == 200
        assert request.attributes["portico.request_id"]

        statements = [s for s in trace if s.kind == CLIENT and s.parent_span_id == request.span_id]
        assert statements, trace
        assert all(s.attributes["db.system.name"] == "postgresql" for s in statements)
        assert any("outbox" in s.attributes["db.query.text"] for s in statements), statements

        send = one(trace, kind=PRODUCER, attributes={"portico.event.type": "user.followed"})
        assert send.service == "portico-api"
        assert send.name == f"send {topic}"
        assert send.parent_span_id == request.span_id
        assert send.attributes["messaging.system"] == "kafka"
        assert send.attributes["messaging.destination.name"] == topic

        # At least once: a redelivered record is handled (and traced) again.
        processed = [s for s in trace if s.kind == CONSUMER and s.name == f"process {topic}"]
        assert processed, trace
        for process in processed:
            assert process.service == "portico-worker"
            assert process.parent_span_id == send.span_id
            assert process.attributes["portico.event.type"] == "user.followed"
            event_id = send.attributes["messaging.message.id"]
            assert process.attributes["messaging.message.id"] == event_id

        handlers = [s for s in trace if s.name == FOLLOW_HANDLER]
        assert {h.parent_span_id for h in handlers} <= {p.span_id for p in processed}
        assert all(h.service == "portico-worker" for h in handlers)
        handler_statements = [s for s in trace if s.parent_span_id == handlers[0].span_id]
        assert any(s.attributes.get("db.system.name") == "postgresql" for s in handler_statements)

        access = [
            json.loads(line)
            for line in api.log().splitlines()
            if line.startswith("{") and '"portico.access"' in line and "/follow" in line
        ]
        assert len(access) == 1, api.log()
        assert access[0]["trace_id"] == request.trace_id
        assert access[0]["span_id"] == request.span_id
        assert access[0]["request_id"] == request.attributes["portico.request_id"]
