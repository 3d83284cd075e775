"""Writes each email as an .eml file, for development without a mail server."""

import asyncio
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from application.ports.delivery import EmailMessage


class FileMailer:
    """The `Mailer` port into a directory.

    One RFC 5322 file per message, named after its Message-ID, openable in any mail client.
    """

    def __init__(self, directory: Path, *, sender: str) -> None:
        self._directory = directory
        self._sender = sender

    async def send(self, message: EmailMessage) -> None:
        """Write the message; the file appears whole (written aside, then renamed)."""
        mime = MimeMessage()
        mime["From"] = self._sender
        mime["To"] = message.to
        mime["Subject"] = message.subject
        mime["Date"] = formatdate(localtime=False)
        message_id = make_msgid(domain="portico.local")
        mime["Message-ID"] = message_id
        mime.set_content(message.text)
        mime.add_alternative(message.html, subtype="html")
        await asyncio.to_thread(self._write, message_id.strip("<>"), bytes(mime))

    def _write(self, name: str, content: bytes) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        temporary = self._directory / f".{name}.tmp"
        temporary.write_bytes(content)
        temporary.rename(self._directory / f"{name}.eml")
