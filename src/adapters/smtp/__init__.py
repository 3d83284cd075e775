"""SMTP through aiosmtplib: outgoing mail."""
