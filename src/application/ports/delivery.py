"""Delivery ports: rendering messages from templates, and sending email."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderedEmail:
    """A subject with a plain-text and an HTML body."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailMessage:
    """One email to one recipient."""

    to: str
    subject: str
    text: str
    html: str


class TemplateRenderer(Protocol):
    """Renders a named email template; HTML is escaped, text is not."""

    def render_email(self, template: str, context: Mapping[str, str]) -> RenderedEmail:
        """Render the subject, text and HTML of `template` with `context`."""
        ...


class Mailer(Protocol):
    """Sends email; raising means it was not accepted and may be retried."""

    async def send(self, message: EmailMessage) -> None:
        """Hand the message to the mail system."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SmsMessage:
    """One text message to one phone number (E.164, such as +14155550100)."""

    to: str
    body: str


class SmsSender(Protocol):
    """Sends text messages; raising means the gateway did not accept it, retry later."""

    async def send(self, message: SmsMessage) -> None:
        """Hand the message to the SMS gateway."""
        ...
