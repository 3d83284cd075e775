"""Jobs on taskiq's Redis Streams broker: delivered, retried, redelivered, kept by Redis."""

import asyncio
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from taskiq.acks import AcknowledgeType
from taskiq.receiver import Receiver

from adapters.taskiq.queue import TaskiqTaskQueue, create_broker
from application.common.ports.task_queue import TaskQueue
from application.notifications.send_templated_email import (
    SEND_TEMPLATED_EMAIL,
    SendTemplatedEmailCommand,
)
from entrypoints.bootstrap import with_signing_secret
from entrypoints.config import load_settings
from entrypoints.ioc import make_container
from entrypoints.worker.receiver import run_jobs_until_stopped
from tests.support.faults import private_redis
from tests.support.slow_jobs import SLOW_JOB

pytestmark = pytest.mark.integration

EMAIL = SendTemplatedEmailCommand(
    to="ada@example.com",
    template="verify_email",
    context={
        "username": "ada",
        "link": "https://portico.test/verify?token=t",
        "token": "t",
        "valid_hours": "48",
    },
)


def jobs_settings(redis_url: str, migrated_url: str, data_dir: Path, mail_dir: Path) -> Any:
    return with_signing_secret(
        load_settings(
            {
                "DATABASE_URL": migrated_url,
                "DATA_DIR": str(data_dir),
                "REDIS_URL": redis_url,
                "JOBS_QUEUE": "redis",
                "JOBS_STREAM": f"test:jobs:{uuid.uuid4().hex}",
                "JOBS_RETRY_BASE_SECONDS": "0.5",
                "JOBS_MAX_ATTEMPTS": "4",
                "MAIL_FILE_DIR": str(mail_dir),
            },
            env_file=None,
        )
    )


def mail_in(mail_dir: Path) -> list[Path]:
    return list(mail_dir.glob("*.eml")) if mail_dir.is_dir() else []


async def wait_for_mail(mail_dir: Path, within: float = 20) -> list[Path]:
    async with asyncio.timeout(within):
        while not mail_in(mail_dir):  # noqa: ASYNC110 - the worker writes a file
            await asyncio.sleep(0.05)
    return mail_in(mail_dir)


async def test_a_job_enqueued_on_redis_is_run_by_the_worker_and_retried_with_backoff(
    redis_url: str, migrated_url: str, tmp_path: Path
) -> None:
    mail_dir = tmp_path / "mail"
    mail_dir.write_text("a file where the directory should be: the first runs fail")
    settings = jobs_settings(redis_url, migrated_url, tmp_path, mail_dir)
    container = make_container(settings)
    stop = asyncio.Event()
    try:
        queue = await container.get(TaskQueue)
        assert isinstance(queue, TaskiqTaskQueue)
        await queue.enqueue(SEND_TEMPLATED_EMAIL, EMAIL.as_payload())
        worker = asyncio.create_task(run_jobs_until_stopped(container, settings, stop))
        await asyncio.sleep(0.3)
        failed_at = time.monotonic()
        mail_dir.unlink()
        sent = await wait_for_mail(mail_dir)
        waited = time.monotonic() - failed_at
        stop.set()
        await asyncio.wait_for(worker, timeout=15)
    finally:
        await container.close()
    assert len(sent) == 1
    assert "ada@example.com" in sent[0].read_text()
    assert waited >= 0.15, "the retry waited its backoff instead of running at once"


async def test_a_job_whose_worker_died_is_redelivered_to_another(
    redis_url: str, project_root: Path
) -> None:
    stream = f"test:jobs:{uuid.uuid4().hex}"
    doomed = subprocess.Popen(  # noqa: ASYNC220 - killed with SIGKILL, on purpose
        [sys.executable, "-m", "tests.support.slow_jobs", redis_url, stream],
        cwd=project_root,
        stdout=subprocess.PIPE,
        text=True,
    )
    finished: list[str] = []
    survivor = create_broker(redis_url, stream=stream, group="g", redeliver_after_seconds=1)

    async def slow_job(name: str) -> None:
        finished.append(name)

    survivor.register_task(slow_job, task_name=SLOW_JOB)
    await survivor.startup()
    stop = asyncio.Event()
    try:
        await survivor.find_task(SLOW_JOB).kiq("report")  # type: ignore[union-attr]
        assert doomed.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(doomed.stdout.readline), timeout=20)
        assert line.strip() == "started report"
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
        listening = asyncio.create_task(
            Receiver(
                survivor,
                run_startup=False,
                ack_type=AcknowledgeType.WHEN_EXECUTED,
                max_async_tasks=5,
            ).listen(stop)
        )
        async with asyncio.timeout(20):
            while not finished:  # noqa: ASYNC110 - the survivor's job fills the list
                await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(listening, timeout=10)
    finally:
        if doomed.poll() is None:
            doomed.kill()
        await survivor.shutdown()
    assert finished == ["report"]


async def test_jobs_waiting_in_a_redis_with_an_append_only_file_survive_its_restart(
    migrated_url: str, tmp_path: Path
) -> None:
    """As deployed (`appendonly yes`), a Redis restart loses no job that waits for a worker."""
    mail_dir = tmp_path / "mail"
    root = Path(tempfile.mkdtemp(prefix="portico-jobs-aof-"))
    recipients = [f"reader{n}@example.com" for n in range(12)]
    try:
        with private_redis(root / "redis", append_only=True) as redis_server:
            settings = jobs_settings(redis_server.url, migrated_url, tmp_path, mail_dir)
            container = make_container(settings)
            stop = asyncio.Event()
            try:
                queue = await container.get(TaskQueue)
                for recipient in recipients:
                    email = SendTemplatedEmailCommand(
                        to=recipient, template=EMAIL.template, context=EMAIL.context
                    )
                    await queue.enqueue(SEND_TEMPLATED_EMAIL, email.as_payload())
                await asyncio.to_thread(redis_server.restart, down_for=0.5)
                worker = asyncio.create_task(run_jobs_until_stopped(container, settings, stop))
                async with asyncio.timeout(30):
                    while len(mail_in(mail_dir)) < len(recipients):  # noqa: ASYNC110 - files
                        await asyncio.sleep(0.05)
                stop.set()
                await asyncio.wait_for(worker, timeout=15)
            finally:
                await container.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    sent = sorted(
        next(r for r in recipients if r in message.read_text()) for message in mail_in(mail_dir)
    )
    assert sent == sorted(recipients), "each waiting job ran once after the restart"
