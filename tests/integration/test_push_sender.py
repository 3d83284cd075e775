"""The Web Push sender against a local HTTP server standing in for a push service.

The test plays the browser too: it makes the subscription's keys and decrypts what the
server received with its own RFC 8291 code, so the sender is checked against the RFC
rather than against the library it uses.
"""

import os
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from loguru import logger

from adapters.inprocess.push import InProcessPushSender
from adapters.webpush.sender import (
    MAX_PAYLOAD,
    TOKEN_LIFETIME,
    TOKEN_RENEWAL,
    PushRejectedError,
    PushUnavailableError,
    WebPushSender,
    generate_vapid_keys,
    vapid_public_key,
)
from application.notifications.ports import PushMessage, PushOutcome
from tests.support.network import closed_port
from tests.support.push import (
    Browser,
    PushService,
    b64url,
    running,
    unb64url,
    vapid,
    verified_claims,
)

pytestmark = pytest.mark.integration

SUBJECT = "mailto:ops@portico.example"
VAPID_PRIVATE, VAPID_PUBLIC = generate_vapid_keys()


@pytest.fixture
def service() -> Iterator[PushService]:
    with running(PushService()) as started:
        yield started


@pytest.fixture
async def sender() -> AsyncIterator[WebPushSender]:
    sender = WebPushSender(
        vapid_private_key=VAPID_PRIVATE,
        vapid_subject=SUBJECT,
        timeout_seconds=5,
        allow_private_networks=True,
    )
    yield sender
    await sender.aclose()


async def test_a_push_is_encrypted_for_the_browser_and_authenticated_with_vapid(
    service: PushService, sender: WebPushSender
) -> None:
    browser = Browser()
    payload = b'{"title": "New article", "body": "Caf\xc3\xa9 culture"}'
    message = PushMessage(payload=payload, ttl_seconds=3600, urgency="high", topic="articles")

    outcome = await sender.send(browser.subscribe(f"{service.url}/push/abc123"), message)

    assert outcome is PushOutcome.DELIVERED
    [request] = service.received
    assert request.path == "/push/abc123"
    assert browser.decrypt(request.body) == payload
    assert request.body[21:86] != unb64url(VAPID_PUBLIC), "the ECDH key is per message"
    assert request.headers["ttl"] == "3600"
    assert request.headers["urgency"] == "high"
    assert request.headers["topic"] == "articles"
    assert request.headers["content-encoding"] == "aes128gcm"
    assert request.headers["content-type"] == "application/octet-stream"
    token, key = vapid(request.headers)
    assert key == VAPID_PUBLIC == sender.application_server_key
    claims = verified_claims(token, key, audience=service.url)
    assert claims["aud"] == service.url
    assert claims["sub"] == SUBJECT
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600


async def test_each_message_gets_a_fresh_key_and_salt(
    service: PushService, sender: WebPushSender
) -> None:
    browser = Browser()
    subscription = browser.subscribe(f"{service.url}/push/1")
    for _ in range(2):
        await sender.send(subscription, PushMessage(payload=b"same", ttl_seconds=60))
    first, second = (request.body for request in service.received)
    assert first[:16] != second[:16]
    assert first[21:86] != second[21:86]
    assert browser.decrypt(first) == browser.decrypt(second) == b"same"


async def test_the_largest_payload_fills_a_4096_byte_body(
    service: PushService, sender: WebPushSender
) -> None:
    browser = Browser()
    payload = os.urandom(MAX_PAYLOAD)
    outcome = await sender.send(
        browser.subscribe(f"{service.url}/p"), PushMessage(payload=payload, ttl_seconds=0)
    )
    assert outcome is PushOutcome.DELIVERED
    [request] = service.received
    assert len(request.body) == 4096
    assert browser.decrypt(request.body) == payload
    assert request.headers["urgency"] == "normal"
    assert "topic" not in request.headers


async def test_an_oversized_payload_is_refused_before_anything_is_sent(
    service: PushService, sender: WebPushSender
) -> None:
    message = PushMessage(payload=b"x" * (MAX_PAYLOAD + 1), ttl_seconds=60)
    with pytest.raises(ValueError, match=str(MAX_PAYLOAD)):
        await sender.send(Browser().subscribe(f"{service.url}/p"), message)
    assert service.received == []


@pytest.mark.parametrize(
    "message",
    [
        PushMessage(payload=b"x", ttl_seconds=-1),
        PushMessage(payload=b"x", ttl_seconds=60, urgency="urgent"),
        PushMessage(payload=b"x", ttl_seconds=60, topic="not a token"),
        PushMessage(payload=b"x", ttl_seconds=60, topic="t" * 33),
    ],
)
async def test_invalid_headers_are_refused_before_anything_is_sent(
    service: PushService, sender: WebPushSender, message: PushMessage
) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        await sender.send(Browser().subscribe(f"{service.url}/p"), message)
    assert service.received == []


async def test_an_empty_payload_is_a_push_without_a_body(
    service: PushService, sender: WebPushSender
) -> None:
    outcome = await sender.send(
        Browser().subscribe(f"{service.url}/p"), PushMessage(payload=b"", ttl_seconds=60)
    )
    assert outcome is PushOutcome.DELIVERED
    [request] = service.received
    assert request.body == b""
    assert "content-encoding" not in request.headers
    assert request.headers["authorization"].startswith("vapid t=")


class FakeClock:
    def __init__(self) -> None:
        self.current = datetime.now(UTC)

    def now(self) -> datetime:
        return self.current


async def test_the_vapid_token_is_reused_per_audience_until_shortly_before_it_expires(
    service: PushService,
) -> None:
    clock = FakeClock()
    sender = WebPushSender(
        vapid_private_key=VAPID_PRIVATE,
        vapid_subject=SUBJECT,
        timeout_seconds=5,
        clock=clock,
        allow_private_networks=True,
    )
    browser = Browser()
    here = browser.subscribe(f"{service.url}/a")
    message = PushMessage(payload=b"hi", ttl_seconds=60)
    with running(PushService()) as elsewhere:
        await sender.send(here, message)
        await sender.send(browser.subscribe(f"{service.url}/b"), message)
        await sender.send(browser.subscribe(f"{elsewhere.url}/c"), message)
        clock.current += TOKEN_LIFETIME - TOKEN_RENEWAL - timedelta(seconds=1)
        await sender.send(here, message)
        clock.current += timedelta(seconds=1)
        await sender.send(here, message)
        [other] = elsewhere.received
    await sender.aclose()

    first, same_origin, still_cached, renewed = (vapid(r.headers)[0] for r in service.received)
    assert first == same_origin == still_cached
    assert renewed != first
    other_token = vapid(other.headers)[0]
    assert verified_claims(other_token, VAPID_PUBLIC, audience=elsewhere.url)["aud"] == (
        elsewhere.url
    )
    renewed_claims = verified_claims(renewed, VAPID_PUBLIC, audience=service.url)
    assert renewed_claims["exp"] == int((clock.current + TOKEN_LIFETIME).timestamp())


@pytest.mark.parametrize("status", [404, 410])
async def test_a_subscription_the_service_no_longer_knows_is_gone(
    service: PushService, sender: WebPushSender, status: int
) -> None:
    service.status = status
    outcome = await sender.send(
        Browser().subscribe(f"{service.url}/p"), PushMessage(payload=b"x", ttl_seconds=60)
    )
    assert outcome is PushOutcome.GONE


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [(500, None, None), (503, "120", 120), (429, "30", 30), (408, None, None)],
)
async def test_a_busy_or_failing_service_is_a_retryable_error(
    service: PushService,
    sender: WebPushSender,
    status: int,
    retry_after: str | None,
    expected: int | None,
) -> None:
    service.status = status
    if retry_after is not None:
        service.answer_headers["Retry-After"] = retry_after
    with pytest.raises(PushUnavailableError) as caught:
        await sender.send(
            Browser().subscribe(f"{service.url}/secret-path"),
            PushMessage(payload=b"x", ttl_seconds=60),
        )
    assert caught.value.status == status
    assert caught.value.retry_after_seconds == expected
    assert str(status) in str(caught.value)
    assert "secret-path" not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "fragment"),
    [(400, "answered 400"), (403, "answered 403"), (413, "413: payload too large")],
)
async def test_a_refused_request_is_a_non_retryable_error_naming_the_status(
    service: PushService, sender: WebPushSender, status: int, fragment: str
) -> None:
    service.status = status
    service.answer_body = b"bad header\n"
    with pytest.raises(PushRejectedError) as caught:
        await sender.send(
            Browser().subscribe(f"{service.url}/secret-path"),
            PushMessage(payload=b"x", ttl_seconds=60),
        )
    assert caught.value.status == status
    assert fragment in str(caught.value)
    assert "secret-path" not in str(caught.value)
    assert "bad header" not in str(caught.value), "a push service's answer is not echoed"


async def test_an_unreachable_service_is_a_retryable_error(sender: WebPushSender) -> None:
    subscription = Browser().subscribe(f"http://127.0.0.1:{closed_port()}/p")
    with pytest.raises(PushUnavailableError, match="unreachable: ConnectError"):
        await sender.send(subscription, PushMessage(payload=b"x", ttl_seconds=60))


async def test_a_service_slower_than_the_timeout_is_a_retryable_error(
    service: PushService,
) -> None:
    service.delay = 1.0
    sender = WebPushSender(
        vapid_private_key=VAPID_PRIVATE,
        vapid_subject=SUBJECT,
        timeout_seconds=0.2,
        allow_private_networks=True,
    )
    with pytest.raises(PushUnavailableError, match="Timeout"):
        await sender.send(
            Browser().subscribe(f"{service.url}/p"), PushMessage(payload=b"x", ttl_seconds=60)
        )
    await sender.aclose()


def test_vapid_keys_are_raw_p256_keys_in_base64url() -> None:
    private, public = generate_vapid_keys()
    assert len(unb64url(private)) == 32
    assert len(unb64url(public)) == 65
    assert unb64url(public)[0] == 0x04
    assert "=" not in private + public
    assert vapid_public_key(private) == public
    assert vapid_public_key(VAPID_PRIVATE) == VAPID_PUBLIC


@pytest.mark.parametrize(
    ("private_key", "subject"),
    [
        ("too-short", SUBJECT),
        (b64url(b"\x00" * 32), SUBJECT),
        (b64url(b"\xff" * 32), SUBJECT),
        (VAPID_PRIVATE, "ops@portico.example"),
    ],
)
def test_invalid_vapid_settings_are_refused(private_key: str, subject: str) -> None:
    with pytest.raises(ValueError, match="VAPID"):
        WebPushSender(vapid_private_key=private_key, vapid_subject=subject, timeout_seconds=5)


async def test_aclose_closes_only_a_client_the_sender_made() -> None:
    own = WebPushSender(vapid_private_key=VAPID_PRIVATE, vapid_subject=SUBJECT, timeout_seconds=5)
    await own.aclose()
    assert own._client.is_closed
    async with httpx.AsyncClient() as client:
        lent = WebPushSender(
            vapid_private_key=VAPID_PRIVATE,
            vapid_subject=SUBJECT,
            timeout_seconds=5,
            client=client,
        )
        await lent.aclose()
        assert not client.is_closed


async def test_the_memory_sender_keeps_messages_and_answers_gone_when_told() -> None:
    sender = InProcessPushSender()
    browser = Browser()
    kept = browser.subscribe("https://push.example:8443/send/secret-path")
    dropped = browser.subscribe("https://push.example/send/dropped")
    sender.mark_gone(dropped.endpoint)
    message = PushMessage(payload=b"private words", ttl_seconds=60)
    lines: list[str] = []
    sink = logger.add(lines.append, level="INFO", format="{message}")
    try:
        assert await sender.send(kept, message) is PushOutcome.DELIVERED
        assert await sender.send(dropped, message) is PushOutcome.GONE
    finally:
        logger.remove(sink)
    assert list(sender.sent) == [(kept, message)]
    assert "https://push.example:8443" in lines[0]
    assert "13 bytes" in lines[0]
    assert "https://push.example" in lines[1]
    assert not any("secret-path" in line or "private words" in line for line in lines)


async def test_an_endpoint_on_a_private_address_is_refused_before_anything_is_sent(
    service: PushService,
) -> None:
    sender = WebPushSender(
        vapid_private_key=VAPID_PRIVATE, vapid_subject=SUBJECT, timeout_seconds=5
    )
    try:
        for endpoint in (
            f"{service.url}/p",
            "http://localhost:9/p",
            "http://10.0.0.5/p",
            "http://168.63.129.16/p",  # Azure WireServer: global, yet internal
            "http://[64:ff9b::a9fe:a9fe]/p",  # NAT64 of 169.254.169.254
        ):
            with pytest.raises(PushRejectedError, match="not on a public address"):
                await sender.send(
                    Browser().subscribe(endpoint), PushMessage(payload=b"x", ttl_seconds=60)
                )
    finally:
        await sender.aclose()
    assert service.received == []
