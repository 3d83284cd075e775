"""Providers for email and background jobs."""

import ipaddress
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from dishka import AsyncContainer, Provider, Scope, provide
from taskiq import AsyncBroker

from adapters.inprocess.sms import InProcessSmsSender
from adapters.inprocess.task_queue import InProcessTaskQueue
from adapters.mail.file_mailer import FileMailer
from adapters.smtp.mailer import SmtpMailer
from adapters.taskiq.queue import TaskiqTaskQueue, create_broker
from adapters.templates.jinja import TEMPLATES, JinjaTemplateRenderer
from adapters.twilio.sms import TwilioSmsSender
from application.common.ports.metrics import JobMetrics
from application.common.ports.task_queue import TaskQueue
from application.notifications.ports import Mailer, SmsSender, TemplateRenderer
from entrypoints.config.settings import Settings
from entrypoints.ioc.markers import JOBS_ON_REDIS, SMS, SMTP
from entrypoints.worker.jobs import JobRetryPolicy, register_jobs, run_job


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine, where plain SMTP is not sent over a network."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class DeliveryProvider(Provider):
    """Templates from the package; email through SMTP when SMTP_HOST is set, else into files."""

    scope = Scope.APP

    @provide
    def renderer(self, settings: Settings) -> TemplateRenderer:
        """The packaged templates, under the operator's TEMPLATES_DIR if one is set."""
        override = settings.notifications.templates_dir
        return JinjaTemplateRenderer(TEMPLATES, override=Path(override) if override else None)

    @provide(when=~SMTP)
    def file_mailer(self, settings: Settings) -> Mailer:
        """Write .eml files into MAIL_FILE_DIR (default DATA_DIR/mail)."""
        directory = settings.mail.file_dir or str(Path(settings.app.data_dir) / "mail")
        return FileMailer(Path(directory), sender=settings.mail.sender)

    @provide(when=SMTP)
    def smtp_mailer(self, settings: Settings) -> Mailer:
        """Send through SMTP_HOST; TLS as SMTP_TLS says, or by whether the host is local."""
        mail = settings.mail
        assert mail.smtp_host is not None  # noqa: S101 - guaranteed by the marker
        return SmtpMailer(
            host=mail.smtp_host,
            port=mail.smtp_port,
            sender=mail.sender,
            tls=mail.smtp_tls or ("none" if is_loopback(mail.smtp_host) else "starttls"),
            username=mail.smtp_username,
            password=mail.smtp_password,
            timeout_seconds=mail.smtp_timeout_seconds,
        )


class SmsProvider(Provider):
    """The Twilio-compatible gateway when it is configured, else messages kept in memory."""

    scope = Scope.APP

    @provide(when=SMS)
    def gateway(self, settings: Settings) -> SmsSender:
        """Send through SMS_BASE_URL with the account's credentials."""
        sms = settings.sms
        if not (sms.base_url and sms.account_sid and sms.auth_token and sms.sender):
            raise RuntimeError("the loader requires the four SMS settings together")
        return TwilioSmsSender(
            base_url=sms.base_url,
            account_sid=sms.account_sid,
            auth_token=sms.auth_token,
            sender=sms.sender,
        )

    @provide(when=~SMS)
    def kept(self) -> SmsSender:
        """Keep and log what would have been sent."""
        return InProcessSmsSender()


class TaskQueueProvider(Provider):
    """Jobs on Redis for `portico worker`, or run in this process; each in its own scope."""

    @provide(scope=Scope.APP)
    def retry_policy(self, settings: Settings) -> JobRetryPolicy:
        """How often and how patiently a failing job is run again."""
        return JobRetryPolicy(
            max_attempts=settings.queue.max_attempts,
            retry_base_seconds=settings.queue.retry_base_seconds,
        )

    @provide(scope=Scope.APP, when=JOBS_ON_REDIS)
    async def broker(self, settings: Settings, metrics: JobMetrics) -> AsyncIterator[AsyncBroker]:
        """The Redis Streams broker, started for sending; the worker also listens on it."""
        assert settings.cache.redis_url is not None  # noqa: S101 - checked by the loader
        queue = settings.queue
        broker = create_broker(
            settings.cache.redis_url,
            stream=queue.stream,
            group=f"{settings.app.name}-workers",
            redeliver_after_seconds=queue.redeliver_after_seconds,
            prefetch=queue.concurrency,
        )
        register_jobs(broker, metrics)
        await broker.startup()
        yield broker
        await broker.shutdown()

    @provide(scope=Scope.APP, when=JOBS_ON_REDIS)
    def on_redis(self, broker: AsyncBroker) -> TaskQueue:
        """Jobs wait in Redis until a worker acknowledges them done."""
        return TaskiqTaskQueue(broker)

    @provide(scope=Scope.APP, when=~JOBS_ON_REDIS)
    async def in_process(
        self, container: AsyncContainer, policy: JobRetryPolicy, metrics: JobMetrics
    ) -> AsyncIterator[TaskQueue]:
        """The in-process queue; pending jobs finish before the container closes."""

        async def run(task: str, payload: Mapping[str, str]) -> None:
            async with container() as request:
                await run_job(request, task, payload)

        queue = InProcessTaskQueue(
            run,
            attempts=policy.max_attempts,
            first_delay_seconds=policy.retry_base_seconds,
            metrics=metrics,
        )
        yield queue
        await queue.drain()
