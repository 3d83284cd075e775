"""Job: render an email template and send it."""

from dataclasses import dataclass

from application.notifications.templated import TemplatedMessageCommand
from application.ports.delivery import EmailMessage, Mailer, TemplateRenderer

SEND_TEMPLATED_EMAIL = "send_templated_email"
"""The task name under which this job is enqueued."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendTemplatedEmailCommand(TemplatedMessageCommand):
    """Whom to write to, with which template and values."""


class SendTemplatedEmail:
    """Render and send one email.

    Rules:
    - Bodies come from templates, never from strings in code; HTML is escaped.
    - A failure to send propagates, so the queue can retry the job.
    """

    def __init__(self, renderer: TemplateRenderer, mailer: Mailer) -> None:
        self._renderer = renderer
        self._mailer = mailer

    async def __call__(self, command: SendTemplatedEmailCommand) -> None:
        """Render, then send."""
        rendered = self._renderer.render_email(command.template, command.context)
        await self._mailer.send(
            EmailMessage(
                to=command.to, subject=rendered.subject, text=rendered.text, html=rendered.html
            )
        )
