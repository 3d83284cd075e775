"""Email through an SMTP relay, with aiosmtplib."""

import ssl
from typing import Literal

import aiosmtplib

from adapters.mail.mime import mime_message
from application.notifications.ports import EmailMessage, Mailer

TlsMode = Literal["none", "starttls", "tls"]


class MailDeliveryError(Exception):
    """The relay did not accept the message; the job that sent it retries."""


class SmtpMailer(Mailer):
    """The `Mailer` port on an SMTP relay.

    - `tls`: ``none`` (plain, for a relay on this host), ``starttls`` (upgrade on the
      submission port, 587) or ``tls`` (implicit TLS, 465). Certificates are verified.
    - `username` and `password` turn on AUTH; both or neither.
    - One connection per message: jobs send mail one at a time, and a relay drops idle
      connections anyway.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        tls: TlsMode,
        username: str | None = None,
        password: str | None = None,
        timeout_seconds: float = 10.0,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("give both an SMTP username and a password, or neither")
        self._host = host
        self._port = port
        self._sender = sender
        self._tls = tls
        self._username = username
        self._password = password
        self._timeout_seconds = timeout_seconds
        self._domain = sender.rpartition("@")[2].strip(">") or "portico.local"

    async def send(self, message: EmailMessage) -> None:
        """Send one multipart message; raise `MailDeliveryError` when the relay refuses."""
        mime = mime_message(message, sender=self._sender, domain=self._domain)
        try:
            await aiosmtplib.send(
                mime,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                use_tls=self._tls == "tls",
                start_tls=self._tls == "starttls",
                tls_context=ssl.create_default_context() if self._tls != "none" else None,
                timeout=self._timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailDeliveryError(f"smtp {self._host}:{self._port}: {exc}") from exc
