"""Reading what a `portico serve` under test mailed: its file mailer's `.eml` files."""

import email
import email.policy
import time
from email.message import EmailMessage
from pathlib import Path


def mailed(data_dir: Path | str, address: str, subject: str, *, timeout: float = 10) -> str:
    """Wait for the newest email to `address` with `subject`; return its plain-text body."""
    mail_dir = Path(data_dir) / "mail"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(mail_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            if message["To"] == address and message["Subject"] == subject:
                body = message.get_body(preferencelist=("plain",))
                assert body is not None
                return str(body.get_content())
        time.sleep(0.1)
    raise AssertionError(f"no email to {address} about {subject!r} in {mail_dir}")


def mailed_token(
    data_dir: Path | str, address: str, subject: str = "Confirm your email address"
) -> str:
    """The one-time token in the link of the newest such email."""
    return mailed(data_dir, address, subject).split("?token=", 1)[1].split()[0]
