"""Providers for email and background jobs."""

from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from dishka import AsyncContainer, Provider, Scope, provide

from adapters.inprocess.task_queue import InProcessTaskQueue
from adapters.mail.file_mailer import FileMailer
from adapters.templates.jinja import EMAIL_TEMPLATES, JinjaTemplateRenderer
from application.identity.issue_password_reset import (
    ISSUE_PASSWORD_RESET,
    IssuePasswordReset,
    IssuePasswordResetCommand,
)
from application.notifications.send_templated_email import (
    SEND_TEMPLATED_EMAIL,
    SendTemplatedEmail,
    SendTemplatedEmailCommand,
)
from application.ports.delivery import Mailer, TemplateRenderer
from application.ports.messaging import TaskQueue
from entrypoints.config.settings import Settings


class DeliveryProvider(Provider):
    """Templates from the package; email into files until the SMTP adapter arrives."""

    scope = Scope.APP

    @provide
    def renderer(self) -> TemplateRenderer:
        """The email templates shipped with the package."""
        return JinjaTemplateRenderer(EMAIL_TEMPLATES)

    @provide
    def mailer(self, settings: Settings) -> Mailer:
        """Write .eml files into MAIL_FILE_DIR (default DATA_DIR/mail)."""
        directory = settings.mail.file_dir or str(Path(settings.app.data_dir) / "mail")
        return FileMailer(Path(directory), sender=settings.mail.sender)


class TaskQueueProvider(Provider):
    """Jobs run in this process, each in a request scope of its own."""

    @provide(scope=Scope.APP)
    async def task_queue(self, container: AsyncContainer) -> AsyncIterator[TaskQueue]:
        """The in-process queue; pending jobs finish before the container closes."""

        async def run(task: str, payload: Mapping[str, str]) -> None:
            async with container() as request:
                if task == SEND_TEMPLATED_EMAIL:
                    send = await request.get(SendTemplatedEmail)
                    await send(SendTemplatedEmailCommand.from_payload(payload))
                elif task == ISSUE_PASSWORD_RESET:
                    issue = await request.get(IssuePasswordReset)
                    await issue(IssuePasswordResetCommand(email=payload["email"]))
                else:
                    raise LookupError(f"no job is registered as {task!r}")

        queue = InProcessTaskQueue(run)
        yield queue
        await queue.drain()
