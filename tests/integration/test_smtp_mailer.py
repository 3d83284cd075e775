"""The SMTP mailer against a real SMTP server (aiosmtpd): multipart, headers, AUTH."""

import email
import email.policy
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from adapters.smtp.mailer import MailDeliveryError, SmtpMailer
from application.notifications.ports import EmailMessage
from entrypoints.ioc.delivery import is_loopback
from tests.support.network import closed_port, free_port

pytestmark = pytest.mark.integration

MESSAGE = EmailMessage(
    to="ada@example.com",
    subject="Verify your email",
    text="Hello Ada,\nfollow the link.",
    html="<p>Hello Ada, <a href='https://portico.test/v'>follow the link</a>.</p>",
)


class Inbox:
    """An aiosmtpd handler keeping every message it accepted."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(  # noqa: N802 - the name aiosmtpd calls the hook by
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
        return "250 OK"


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"ops", b"s3cret")
    return AuthResult(success=ok)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield inbox, port
    controller.stop()


async def test_a_multipart_message_arrives_with_its_headers(smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    mailer = SmtpMailer(
        host="127.0.0.1", port=port, sender="Portico <no-reply@portico.test>", tls="none"
    )
    await mailer.send(MESSAGE)
    ((mail_from, recipients, content),) = inbox.messages
    assert mail_from == "no-reply@portico.test"
    assert recipients == ["ada@example.com"]
    parsed = email.message_from_bytes(content, policy=email.policy.default)
    assert parsed["Subject"] == "Verify your email"
    assert parsed["From"] == "Portico <no-reply@portico.test>"
    assert parsed["Message-ID"].endswith("@portico.test>")
    assert parsed.get_content_type() == "multipart/alternative"
    text, html = parsed.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert "follow the link." in text.get_content()
    assert html.get_content_type() == "text/html"
    assert "<a href='https://portico.test/v'>" in html.get_content()


async def test_auth_is_used_when_configured_and_a_wrong_password_is_an_error(
    smtp_server: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_server
    good = SmtpMailer(
        host="127.0.0.1",
        port=port,
        sender="no-reply@portico.test",
        tls="none",
        username="ops",
        password="s3cret",
    )
    await good.send(MESSAGE)
    bad = SmtpMailer(
        host="127.0.0.1",
        port=port,
        sender="no-reply@portico.test",
        tls="none",
        username="ops",
        password="wrong",
    )
    with pytest.raises(MailDeliveryError):
        await bad.send(MESSAGE)
    assert len(inbox.messages) == 1


async def test_an_unreachable_relay_is_a_delivery_error() -> None:
    mailer = SmtpMailer(
        host="127.0.0.1",
        port=closed_port(),
        sender="no-reply@portico.test",
        tls="none",
        timeout_seconds=2,
    )
    with pytest.raises(MailDeliveryError):
        await mailer.send(MESSAGE)


def test_plain_smtp_is_the_default_only_for_this_machine() -> None:
    assert is_loopback("localhost")
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert not is_loopback("smtp.example.com")
    assert not is_loopback("10.0.0.5")
