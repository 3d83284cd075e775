"""Writes each email as an .eml file, for development without a mail server."""

import asyncio
from pathlib import Path

from adapters.mail.mime import mime_message
from application.notifications.ports import EmailMessage, Mailer


class FileMailer(Mailer):
    """The `Mailer` port into a directory.

    One RFC 5322 file per message, named after its Message-ID, openable in any mail client.
    """

    def __init__(self, directory: Path, *, sender: str) -> None:
        self._directory = directory
        self._sender = sender

    async def send(self, message: EmailMessage) -> None:
        """Write the message; the file appears whole (written aside, then renamed)."""
        mime = mime_message(message, sender=self._sender, domain="portico.local")
        await asyncio.to_thread(self._write, str(mime["Message-ID"]).strip("<>"), bytes(mime))

    def _write(self, name: str, content: bytes) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        temporary = self._directory / f".{name}.tmp"
        temporary.write_bytes(content)
        temporary.rename(self._directory / f"{name}.eml")
