"""Job: render an SMS template and send it."""

from dataclasses import dataclass

from application.audit.capture import not_audited
from application.notifications.ports import SmsMessage, SmsSender, TemplateRenderer
from application.notifications.templated import TemplatedMessageCommand

SEND_TEMPLATED_SMS = "send_templated_sms"
"""The task name under which this job is enqueued."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendTemplatedSmsCommand(TemplatedMessageCommand):
    """Which number, with which template and values."""


@not_audited(
    "delivery: sends a message a committed change asked for, and that change has the"
    " entry; the message may carry a code, which an entry must never hold"
)
class SendTemplatedSms:
    """Render and send one text message; a failure propagates so the queue retries."""

    def __init__(self, renderer: TemplateRenderer, sms: SmsSender) -> None:
        self._renderer = renderer
        self._sms = sms

    async def __call__(self, command: SendTemplatedSmsCommand) -> None:
        """Render, then send."""
        body = self._renderer.render_text(command.template, command.context)
        await self._sms.send(SmsMessage(to=command.to, body=body))
