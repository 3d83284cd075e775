"""The SMS sender against a local HTTP server that answers as Twilio's Messages API does."""

import base64
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from adapters.twilio.sms import SmsDeliveryError, TwilioSmsSender
from application.notifications.ports import SmsMessage
from tests.support.network import closed_port

pytestmark = pytest.mark.integration

SID, TOKEN = "AC123", "secret-token"


class Gateway(BaseHTTPRequestHandler):
    """Accepts messages for SID with TOKEN, as Twilio does (201 with the message resource)."""

    received: list[dict[str, Any]] = []  # noqa: RUF012 - shared with the test on purpose

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self._answer(401, {"code": 20003, "message": "Authenticate"})
            return
        if self.path != f"/2010-04-01/Accounts/{SID}/Messages.json":
            self._answer(404, {"code": 20404, "message": "not found"})
            return
        if not form.get("To", [""])[0].startswith("+"):
            self._answer(400, {"code": 21211, "message": "Invalid 'To' Phone Number"})
            return
        self.received.append({key: values[0] for key, values in form.items()})
        self._answer(201, {"sid": "SM1", "status": "queued"})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture
def gateway() -> Iterator[str]:
    Gateway.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def sender(base_url: str, token: str = TOKEN) -> TwilioSmsSender:
    return TwilioSmsSender(
        base_url=base_url, account_sid=SID, auth_token=token, sender="+15005550006"
    )


async def test_a_message_is_posted_as_the_api_expects(gateway: str) -> None:
    await sender(gateway).send(SmsMessage(to="+14155550100", body="Your code is 123456"))
    assert Gateway.received == [
        {"To": "+14155550100", "From": "+15005550006", "Body": "Your code is 123456"}
    ]


@pytest.mark.parametrize(
    ("token", "to", "fragment"),
    [("wrong", "+14155550100", "401, code 20003"), (TOKEN, "0415", "400, code 21211")],
)
async def test_a_refusal_is_an_error_naming_the_status_and_code(
    gateway: str, token: str, to: str, fragment: str
) -> None:
    with pytest.raises(SmsDeliveryError) as caught:
        await sender(gateway, token).send(SmsMessage(to=to, body="hi"))
    assert fragment in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert Gateway.received == []


async def test_an_unreachable_gateway_is_an_error() -> None:
    with pytest.raises(SmsDeliveryError):
        await sender(f"http://127.0.0.1:{closed_port()}").send(SmsMessage(to="+1", body="x"))
