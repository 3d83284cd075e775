"""Probes the SMTP relay with a real session."""

import aiosmtplib

from application.health.ports import HealthProbe


class SmtpProbe(HealthProbe):
    """Reports the mail relay up when it greets us and answers ``NOOP``."""

    dependency = "smtp"

    def __init__(self, host: str, port: int, *, timeout_seconds: float) -> None:
        self._host = host
        self._port = port
        self._timeout = timeout_seconds

    async def check(self) -> None:
        """Open a session, send ``NOOP``, and quit."""
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            timeout=self._timeout,
            start_tls=False,
        )
        await client.connect()
        try:
            await client.noop()
        finally:
            await client.quit()
