"""Job: render an email template and send it."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self

from application.audit.capture import not_audited
from application.notifications.ports import EmailMessage, Mailer, TemplateRenderer
from application.notifications.recipient_caps import RecipientCaps, masked_recipient
from application.notifications.templated import TemplatedMessageCommand, context_of
from domain.notifications.notification import Channel

_log = logging.getLogger(__name__)

SEND_TEMPLATED_EMAIL = "send_templated_email"
"""The task name under which this job is enqueued."""

_SECURITY = "security"
"""The payload key flagging a security notice; only its presence, as "true", counts."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendTemplatedEmailCommand(TemplatedMessageCommand):
    """Whom to write to, with which template and values.

    `security` marks a security notice (the email, the password or the phone changed, a
    reset was completed): it is counted against the higher security cap.
    """

    security: bool = False

    def as_payload(self) -> dict[str, str]:
        """The flat payload a task queue carries, with the security flag when set."""
        payload = TemplatedMessageCommand.as_payload(self)
        if self.security:
            payload[_SECURITY] = "true"
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, str]) -> Self:
        """Rebuild the command a worker received; a payload without the flag is ordinary."""
        return cls(
            to=payload["to"],
            template=payload["template"],
            context=context_of(payload),
            security=payload.get(_SECURITY) == "true",
        )


@not_audited(
    "delivery: sends a message a committed change asked for, and that change has the"
    " entry; the message may carry a link or code, which an entry must never hold"
)
class SendTemplatedEmail:
    """Render and send one email.

    Rules:
    - Bodies come from templates, never from strings in code; HTML is escaped.
    - Every email counts against its address's hourly cap; security notices against the
      higher security cap. One over its cap is not sent and not retried; a log line says
      so (template and masked address).
    - A failure to send propagates, so the queue can retry the job (its count is given
      back first).
    """

    def __init__(self, renderer: TemplateRenderer, mailer: Mailer, caps: RecipientCaps) -> None:
        self._renderer = renderer
        self._mailer = mailer
        self._caps = caps

    async def __call__(self, command: SendTemplatedEmailCommand) -> bool:
        """Render, then send; False when the cap held the email back."""
        rendered = self._renderer.render_email(command.template, command.context)
        if not await self._caps.admit(Channel.EMAIL, command.to, security=command.security):
            _log.warning(
                "not sending %s email to %s: over its hourly cap",
                command.template,
                masked_recipient(Channel.EMAIL, command.to),
            )
            return False
        try:
            await self._mailer.send(
                EmailMessage(
                    to=command.to, subject=rendered.subject, text=rendered.text, html=rendered.html
                )
            )
        except Exception:
            await self._caps.release(Channel.EMAIL, command.to, security=command.security)
            raise
        return True
