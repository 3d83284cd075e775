"""Delivery ports: rendering messages from templates, and sending email, SMS and push."""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from domain.notifications.push import PushSubscription


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

    def render_text(self, template: str, context: Mapping[str, str]) -> str:
        """Render a plain-text template (an SMS, a push title or body), stripped."""
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


@dataclass(frozen=True, slots=True, kw_only=True)
class PushMessage:
    """What a push carries (encrypted on the way), and how long the push service keeps it."""

    payload: bytes
    ttl_seconds: int
    urgency: str = "normal"
    topic: str | None = None


class PushOutcome(StrEnum):
    """What the push service said."""

    DELIVERED = "delivered"
    GONE = "gone"


class PushRejectedError(Exception):
    """The push service refused this message for good; sending it again fails again."""


class PushSender(Protocol):
    """Sends Web Push messages.

    Returns GONE when the push service says the subscription no longer exists (404 or
    410), so the caller can forget it. Raises `PushRejectedError` when the service refuses
    the message for good, and any other exception for what is worth retrying.
    """

    async def send(self, subscription: PushSubscription, message: PushMessage) -> PushOutcome:
        """Encrypt the payload for the subscription's keys and post it to its endpoint."""
        ...
