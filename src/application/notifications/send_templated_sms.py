"""Job: render an SMS template and send it."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from application.notifications.templated import templated_parts, templated_payload
from application.ports.delivery import SmsMessage, SmsSender, TemplateRenderer

SEND_TEMPLATED_SMS = "send_templated_sms"
"""The task name under which this job is enqueued."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendTemplatedSmsCommand:
    """Which number, with which template and values."""

    to: str
    template: str
    context: Mapping[str, str] = field(repr=False)

    def as_payload(self) -> dict[str, str]:
        """The flat payload a task queue carries."""
        return templated_payload(self.to, self.template, self.context)

    @classmethod
    def from_payload(cls, payload: Mapping[str, str]) -> "SendTemplatedSmsCommand":
        """Rebuild the command a worker received."""
        to, template, context = templated_parts(payload)
        return cls(to=to, template=template, context=context)


class SendTemplatedSms:
    """Render and send one text message; a failure propagates so the queue retries."""

    def __init__(self, renderer: TemplateRenderer, sms: SmsSender) -> None:
        self._renderer = renderer
        self._sms = sms

    async def __call__(self, command: SendTemplatedSmsCommand) -> None:
        """Render, then send."""
        body = self._renderer.render_text(command.template, command.context)
        await self._sms.send(SmsMessage(to=command.to, body=body))
