"""The trace across the event bus, and the spans of outgoing HTTP, against real servers.

On the Kafka-protocol broker: the relay's PRODUCER span continues the trace of the outbox
row and hands its own context on in the ``traceparent`` header; the consumer's span
continues from the header, and the handler runs inside it. A relay that does not trace
passes the row's traceparent on unchanged. Against a local SMS gateway: a CLIENT span that
names the host only, and no trace context sent to the provider; the same for a push.
"""

import asyncio
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind, StatusCode, get_current_span

from adapters.events.envelope import topic_for
from adapters.inprocess.event_bus import InProcessEventBus
from adapters.kafka.consumer import KafkaEventConsumer
from adapters.kafka.publisher import KafkaEventPublisher
from adapters.opentelemetry.propagation import traceparent_of
from adapters.twilio.sms import SmsDeliveryError, TwilioSmsSender
from adapters.webpush.sender import WebPushSender, generate_vapid_keys
from application.common.outbox import OutboxMessage
from application.events.received_event import ReceivedEvent
from application.notifications.ports import PushMessage, PushOutcome, SmsMessage
from tests.support.events import CounterIncremented
from tests.support.kafka_cluster import kafka_mock_cluster
from tests.support.push import Browser, PushService, running
from tests.support.tracing import FinishedSpans, tracing_on

pytestmark = pytest.mark.integration

FOREIGN_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
SID = "AC9f3e"


@pytest.fixture
def traced() -> Iterator[FinishedSpans]:
    with tracing_on() as spans:
        yield spans


@pytest.fixture(scope="module")
def bootstrap() -> Iterator[str]:
    with kafka_mock_cluster() as address:
        yield address


def message(traceparent: str | None) -> OutboxMessage:
    return OutboxMessage(
        event_id=uuid.uuid4(),
        event=CounterIncremented(aggregate_id="c1", occurred_at=datetime.now(UTC), amount=1),
        request_id="req-1",
        traceparent=traceparent,
    )


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def published_headers(bootstrap: str, topic: str) -> dict[str, str]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        async with asyncio.timeout(20):
            while True:
                batch = await consumer.getmany(timeout_ms=200)
                for records in batch.values():
                    return {key: value.decode() for key, value in records[0].headers}
    finally:
        await consumer.stop()


async def test_the_trace_goes_from_the_outbox_row_through_kafka_into_the_handler(
    bootstrap: str, traced: FinishedSpans
) -> None:
    prefix = f"tr{uuid.uuid4().hex[:8]}."
    topic = topic_for(prefix, "test_counter")
    with traced.tracer.start_as_current_span("request") as request:
        written = traceparent_of(request)
    sent = message(written)
    publisher = KafkaEventPublisher(bootstrap, topic_prefix=prefix, client_id="tracing-test")
    try:
        await publisher.publish([sent])
    finally:
        await publisher.close()
    headers = await published_headers(bootstrap, topic)

    handled: list[tuple[ReceivedEvent, SpanContext]] = []
    stop = asyncio.Event()

    async def deliver(_topic: str, event: ReceivedEvent) -> None:
        handled.append((event, get_current_span().get_span_context()))
        stop.set()

    consumer = KafkaEventConsumer(
        bootstrap,
        topics=[topic],
        group_id=f"g{uuid.uuid4().hex[:8]}",
        dead_letter_topic=topic_for(prefix, "dead-letter"),
        client_id="tracing-test",
        max_attempts=1,
        retry_base_seconds=0.01,
    )
    await asyncio.wait_for(consumer.run(deliver, stop), timeout=30)

    (send,) = traced.named(f"send {topic}")
    (process,) = traced.named(f"process {topic}")
    trace_id = request.get_span_context().trace_id
    assert send.kind is SpanKind.PRODUCER
    assert send.context.trace_id == trace_id
    assert parent_id(send) == request.get_span_context().span_id
    assert headers["traceparent"].split("-")[:3] == [
        "00",
        f"{trace_id:032x}",
        f"{send.context.span_id:016x}",
    ]
    assert headers["event_id"] == str(sent.event_id)
    assert (send.attributes or {})["messaging.kafka.message.key"] == "c1"
    assert process.kind is SpanKind.CONSUMER
    assert process.context.trace_id == trace_id
    assert parent_id(process) == send.context.span_id
    assert (process.attributes or {})["messaging.message.id"] == str(sent.event_id)
    ((event, current),) = handled
    assert event.event_id == str(sent.event_id)
    assert current.span_id == process.context.span_id


async def test_a_relay_that_does_not_trace_passes_the_rows_traceparent_on(bootstrap: str) -> None:
    prefix = f"tp{uuid.uuid4().hex[:8]}."
    publisher = KafkaEventPublisher(bootstrap, topic_prefix=prefix, client_id="tracing-test")
    try:
        await publisher.publish([message(FOREIGN_TRACEPARENT)])
    finally:
        await publisher.close()
    headers = await published_headers(bootstrap, topic_for(prefix, "test_counter"))
    assert headers["traceparent"] == FOREIGN_TRACEPARENT


async def test_an_event_without_a_trace_starts_one_and_its_headers_name_it(
    bootstrap: str, traced: FinishedSpans
) -> None:
    prefix = f"tn{uuid.uuid4().hex[:8]}."
    topic = topic_for(prefix, "test_counter")
    publisher = KafkaEventPublisher(bootstrap, topic_prefix=prefix, client_id="tracing-test")
    try:
        await publisher.publish([message(None)])
    finally:
        await publisher.close()
    headers = await published_headers(bootstrap, topic)
    (send,) = traced.named(f"send {topic}")
    assert send.parent is None
    assert headers["traceparent"].split("-")[1:3] == [
        f"{send.context.trace_id:032x}",
        f"{send.context.span_id:016x}",
    ]


async def test_the_in_process_bus_hands_events_over_in_their_trace(
    traced: FinishedSpans,
) -> None:
    seen: list[SpanContext] = []

    async def deliver(_event: ReceivedEvent) -> None:
        seen.append(get_current_span().get_span_context())

    bus = InProcessEventBus(deliver, max_attempts=1, retry_base_seconds=0.01)
    await bus.publish([message(FOREIGN_TRACEPARENT)])
    (process,) = traced.named(f"process {CounterIncremented.event_type}")
    assert f"{process.context.trace_id:032x}" == FOREIGN_TRACEPARENT.split("-")[1]
    assert parent_id(process) == int(FOREIGN_TRACEPARENT.split("-")[2], 16)
    assert (process.attributes or {})["messaging.system"] == "in-process"
    assert seen == [process.context]


class Gateway(BaseHTTPRequestHandler):
    """Answers as an SMS gateway, 201 or 400 as the test says, and keeps request headers."""

    headers_seen: list[dict[str, str]] = []  # noqa: RUF012 - shared with the test on purpose
    status = 201

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.headers_seen.append({key.lower(): value for key, value in self.headers.items()})
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture
def gateway() -> Iterator[str]:
    Gateway.headers_seen = []
    Gateway.status = 201
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_an_sms_is_posted_in_a_span_naming_only_the_gateways_host(
    gateway: str, traced: FinishedSpans
) -> None:
    sender = TwilioSmsSender(base_url=gateway, account_sid=SID, auth_token="t0ken", sender="+1")
    sms = SmsMessage(to="+14155550100", body="Your code is 123456")
    await sender.send(sms)
    assert traced.all() == []
    with traced.tracer.start_as_current_span("job") as job:
        await sender.send(sms)
        Gateway.status = 400
        with pytest.raises(SmsDeliveryError):
            await sender.send(sms)
    accepted, refused, _ = traced.all()
    for span in (accepted, refused):
        attributes = span.attributes or {}
        assert span.name == "POST"
        assert span.kind is SpanKind.CLIENT
        assert parent_id(span) == job.get_span_context().span_id
        assert attributes["server.address"] == "127.0.0.1"
        assert attributes["server.port"] == int(gateway.rsplit(":", 1)[1])
        assert SID not in " ".join(str(value) for value in attributes.values())
    assert (accepted.attributes or {})["http.response.status_code"] == 201
    assert accepted.status.status_code is StatusCode.UNSET
    assert (refused.attributes or {})["http.response.status_code"] == 400
    assert refused.status.status_code is StatusCode.ERROR
    assert len(Gateway.headers_seen) == 3
    assert not any("traceparent" in headers for headers in Gateway.headers_seen)


async def test_a_push_is_posted_in_a_span_that_keeps_the_endpoints_path_out(
    traced: FinishedSpans,
) -> None:
    private_key, _ = generate_vapid_keys()
    sender = WebPushSender(
        vapid_private_key=private_key,
        vapid_subject="mailto:ops@portico.example",
        timeout_seconds=5,
        allow_private_networks=True,
    )
    capability = f"cap{uuid.uuid4().hex}"
    message = PushMessage(payload=b'{"title": "New article"}', ttl_seconds=60)
    try:
        with running(PushService()) as service:
            subscription = Browser().subscribe(f"{service.url}/push/{capability}")
            with traced.tracer.start_as_current_span("job") as job:
                assert await sender.send(subscription, message) is PushOutcome.DELIVERED
            service.status = 410
            with traced.tracer.start_as_current_span("job"):
                assert await sender.send(subscription, message) is PushOutcome.GONE
    finally:
        await sender.aclose()
    delivered, _, gone, _ = traced.all()
    attributes = delivered.attributes or {}
    assert delivered.name == "POST"
    assert delivered.kind is SpanKind.CLIENT
    assert parent_id(delivered) == job.get_span_context().span_id
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["http.response.status_code"] == 201
    assert capability not in " ".join(str(value) for value in attributes.values())
    assert (gone.attributes or {})["http.response.status_code"] == 410
    assert not any("traceparent" in request.headers for request in service.received)
