"""`portico worker` and `portico scheduler` through a Redis restart and a PostgreSQL restart.

A deployment in miniature, configured as a real one: `portico serve`, `portico worker`
(relay, consumers, jobs) and `portico scheduler`, on a PostgreSQL and a Redis of the test's
own (never the machine's shared servers), events on a Kafka-protocol broker (librdkafka's
mock cluster, which is not restarted) and jobs on Redis Streams (`JOBS_QUEUE=redis`).

Under a bounded load, one user comments on another's article. Each comment is an event
(outbox, relay, Kafka, the new-comment handler) that makes one notification, whose three
deliveries (in the app, by email, by push) are three jobs. Each server is restarted in the
middle of the load; once the load has stopped and the work has drained, the test checks:

- every stored comment (every acknowledged one among them) had its event relayed and
  handled once: one processed record and one notification;
- every delivery job completed: each delivery ended sent (in the app, by email) or
  skipped (no push subscription), and exactly one email went out per email delivery
  recorded as sent: none lost, none twice, also for an email sent just before PostgreSQL
  went away, whose job records its outcome once the server is back;
- the relay, the consumers, the job receiver and the scheduler resumed within
  `RECOVERY_BOUND_SECONDS` of the server's return;
- each process logged the outage and the recovery once, and no ERROR or traceback;
- after the PostgreSQL restart the scheduler took its lease again and enqueued its jobs,
  which the worker ran once each.
"""

import asyncio
import logging
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.support.faults import (
    Load,
    Outage,
    PrivatePostgres,
    PrivateRedis,
    Request,
    private_postgres,
    private_redis,
)
from tests.support.kafka_cluster import kafka_mock_cluster
from tests.support.live_clients import Account
from tests.support.network import free_port
from tests.support.notifications import Process, portico_processes, wait_until_live
from tests.support.server import clean_env, run_portico
from tests.support.worker_faults import (
    drained,
    emails_about_comments,
    recovery_times,
    sent_deliveries,
    stored_comments,
)

pytestmark = pytest.mark.e2e

DOWN_FOR_SECONDS = 1.5
RECOVERY_BOUND_SECONDS = 10.0
"""Generous: the relay waits at most 5 s between tries, the scheduler checks its lease every
5 s, and a slow machine needs room."""
LOAD_BEFORE_SECONDS = 1.0
LOAD_AFTER_SECONDS = 2.0
PAUSE_BETWEEN_WRITES_SECONDS = 0.02
WRITERS = 2
JOBS_CONCURRENCY = 20
PERIODIC_RUNS = {
    "purge_ended_credentials": r"purged \d+ sessions and \d+ tokens",
    "purge_sent_events": r"purged \d+ sent events",
    "purge_processed_events": r"purged \d+ processed-event records",
    "purge_old_notifications": r"purged \d+ old notifications",
    "collect_file_garbage": r"collected \d+ expired uploads",
}
_TROUBLE = re.compile(r"\bERROR\b|\bCRITICAL\b|Traceback")


@dataclass
class Deployment:
    """The servers and the processes of the test, and the accounts it writes with."""

    postgres: PrivatePostgres
    redis: PrivateRedis
    data_dir: Path
    base_url: str
    api: Process
    worker: Process
    scheduler: Process
    slug: str = ""
    commenter: Account | None = None


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    # Outside pytest's own temporary root, which pytest keeps private to its user: the
    # embedded server runs as another user when the tests run as root.
    root = Path(tempfile.mkdtemp(prefix="portico-worker-faults-"))
    root.chmod(0o755)
    cwd = tmp_path_factory.mktemp("worker-faults")
    # The mock broker logs every request at DEBUG: keep that out of pytest's reports.
    mock_log = logging.getLogger("tests.kafka_mock")
    mock_log.propagate = False
    try:
        with (
            private_postgres(root / "postgres") as postgres,
            private_redis(root / "redis") as redis,
            kafka_mock_cluster() as bootstrap,
            portico_processes(cwd) as processes,
        ):
            env = _environment(postgres, redis, bootstrap, cwd / "data")
            migrated = run_portico("db", "upgrade", env=env, cwd=cwd)
            assert migrated.returncode == 0, migrated.stderr
            port = free_port()
            api = processes.start("api", ["serve"], {**env, "APP_PORT": str(port)})
            worker = processes.start("worker", ["worker"], env)
            scheduler = processes.start("scheduler", ["scheduler"], env)
            base_url = f"http://127.0.0.1:{port}"
            wait_until_live(api, base_url)
            worker.wait_for_log("running jobs from", within=30)
            scheduler.wait_for_log("enqueued purge_old_notifications", within=30)
            worker.wait_for_log("old notifications", within=30)
            running = Deployment(
                postgres=postgres,
                redis=redis,
                data_dir=cwd / "data",
                base_url=base_url,
                api=api,
                worker=worker,
                scheduler=scheduler,
            )
            asyncio.run(_prepare(running))
            yield running
    finally:
        mock_log.propagate = True
        shutil.rmtree(root, ignore_errors=True)


def _environment(
    postgres: PrivatePostgres, redis: PrivateRedis, bootstrap: str, data_dir: Path
) -> dict[str, str]:
    run = f"wf{uuid.uuid4().hex[:8]}"
    return clean_env(
        DATA_DIR=str(data_dir),
        DATABASE_URL=postgres.url,
        REDIS_URL=redis.url,
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        KAFKA_TOPIC_PREFIX=f"{run}.",
        KAFKA_CONSUMER_GROUP=run,
        JOBS_QUEUE="redis",
        JWT_SECRET="worker-faults-test-signing-secret-of-32-bytes-at-least",
        APP_WORKERS="1",
        RATE_LIMIT_COMMENTS_PER_USER="1000000",
        RATE_LIMIT_REGISTRATIONS_PER_IP="1000",
        MAIL_CAP_PER_RECIPIENT="1000000",
        # Deliveries whose jobs a Redis restart took are found and enqueued again soon. A
        # job records its outcome through an outage for half this time, so it must be more
        # than twice as long as PostgreSQL is away (about 3 s from a job's claim to the
        # worker reconnecting), or the sweep would send an email whose job gave up again.
        NOTIFICATIONS_DELIVERY_STALE_SECONDS="12",
        NOTIFICATIONS_DELIVERY_SWEEP_SECONDS="1",
        JOBS_RETRY_BASE_SECONDS="0.5",
        JOBS_CONCURRENCY=str(JOBS_CONCURRENCY),
    )


async def _prepare(deployment: Deployment) -> None:
    """An author with a verified address (notification mail goes only to those), an article
    of theirs, and a commenter."""
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=30) as client:
        author = await Account.register(client)
        commenter = await Account.register(client)
        body = {"article": {"title": "Faults", "description": "d", "body": "b", "tagList": []}}
        published = await client.post("/api/articles", json=body, headers=author.headers)
        assert published.status_code == 201, published.text
    with psycopg.connect(deployment.postgres.url) as connection:
        connection.execute(
            "UPDATE users SET email_verified_at = now() WHERE username = %s", (author.name,)
        )
    deployment.slug = published.json()["article"]["slug"]
    deployment.commenter = commenter


async def _comment_under_load(deployment: Deployment, restart: Any, prefix: str) -> Outage:
    """Comment from `WRITERS` loops before, during and after `restart`; its outage."""
    commenter = deployment.commenter
    assert commenter is not None

    async def comment(client: httpx.AsyncClient, number: int) -> tuple[httpx.Response, str]:
        await asyncio.sleep(PAUSE_BETWEEN_WRITES_SECONDS)
        key = f"{prefix}-{number}-{uuid.uuid4().hex[:8]}"
        response = await client.post(
            f"/api/articles/{deployment.slug}/comments",
            json={"comment": {"body": key}},
            headers=commenter.headers,
        )
        return response, key

    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=30) as client:
        load = Load(client)
        stop = asyncio.Event()
        loops: dict[str, Request] = {f"writer-{n}": comment for n in range(WRITERS)}
        running = asyncio.create_task(load.run(loops, until=stop))
        await asyncio.sleep(LOAD_BEFORE_SECONDS)
        outage: Outage = await asyncio.to_thread(restart, down_for=DOWN_FOR_SECONDS)
        await asyncio.sleep(LOAD_AFTER_SECONDS)
        stop.set()
        await running
    assert not load.transport_errors
    acknowledged = {a.key for a in load.answers if a.status == 201}
    assert acknowledged, load.by_status()
    assert {a.status for a in load.answers} <= {201, 503}, load.by_status()
    print(f"{prefix}: answers {load.by_status()}")  # noqa: T201 - the figures of the run
    stored = stored_comments(deployment.postgres, prefix)
    assert acknowledged <= set(stored)
    return outage


def _assert_handled_once(deployment: Deployment, prefix: str, outage: Outage) -> None:
    """Every event of the phase handled once, its jobs completed, and no email sent twice.

    Every delivery has ended `sent` or `skipped` (`drained`), and a delivery is recorded
    as sent only after its email was written, so one file per sent email delivery, over
    the whole run, means no email went twice and none was lost.
    """
    handled = drained(deployment.postgres, prefix)
    emails = emails_about_comments(deployment.data_dir)
    sent = sent_deliveries(deployment.postgres, "email")
    assert emails == sent, f"{emails} emails for {sent} sent email deliveries"
    recovery = recovery_times(deployment.postgres, outage)
    print(  # noqa: T201 - the figures of the run
        f"{prefix}: down {outage.ended - outage.began:.2f}s; {len(handled)} events handled "
        f"once, {3 * len(handled)} jobs completed, {emails} emails in all, one each; "
        f"resumed after {', '.join(f'{part} {s:.2f}s' for part, s in recovery.items())}"
    )
    for part, seconds in recovery.items():
        assert seconds <= RECOVERY_BOUND_SECONDS, (part, seconds)


def _count(pattern: str, log: str) -> int:
    return len(re.findall(pattern, log))


def _wait_for_count(process: Process, pattern: str, count: int) -> float:
    """Wait until `pattern` is in `process`'s log `count` times; when it was (monotonic)."""
    deadline = time.monotonic() + RECOVERY_BOUND_SECONDS + 5
    while _count(pattern, process.log()) < count:
        assert time.monotonic() < deadline, f"{pattern!r} not {count} times:\n{process.log()}"
        time.sleep(0.1)
    return time.monotonic()


def _logged_at(process: Process, fragment: str, nth: int) -> float:
    """When `process` logged the `nth` line with `fragment` (time.time(); text log format)."""
    lines = [line for line in process.log().splitlines() if fragment in line]
    stamp = datetime.strptime(lines[nth - 1][:23], "%Y-%m-%d %H:%M:%S.%f")  # noqa: DTZ007 - local, as logged
    return stamp.timestamp()


def _assert_no_trouble(*processes: Process) -> None:
    for process in processes:
        assert process.running(), f"{process.name} exited:\n{process.log()}"
        trouble = [line for line in process.log().splitlines() if _TROUBLE.search(line)]
        assert not trouble, f"{process.name} logged:\n" + "\n".join(trouble)


def test_a_redis_restart_loses_no_event_and_no_job(deployment: Deployment) -> None:
    outage = asyncio.run(_comment_under_load(deployment, deployment.redis.restart, "redis"))
    _assert_handled_once(deployment, "redis", outage)

    worker = deployment.worker.log()
    assert _count(r"WARNING.*jobs: the job queue unavailable", worker) == 1, worker
    assert _count(r"jobs: the job queue available again", worker) == 1, worker
    _assert_no_trouble(deployment.api, deployment.worker, deployment.scheduler)


def test_a_postgres_restart_loses_no_event_and_no_job(deployment: Deployment) -> None:
    outage = asyncio.run(_comment_under_load(deployment, deployment.postgres.restart, "pg"))
    # An email job whose mail went out just before the restart records its outcome once
    # the server is back, before its claim is stale: the sweep never sends it again.
    _assert_handled_once(deployment, "pg", outage)

    worker = deployment.worker.log()
    assert _count(r"WARNING.*database unavailable", worker) == 1, worker
    assert _count(r"database available again", worker) == 1, worker

    # The restart ended the scheduler's session and its lease: it takes the lease again
    # and enqueues every periodic job anew, which the worker runs once each.
    _wait_for_count(deployment.scheduler, "this scheduler leads", 2)
    led_again = _logged_at(deployment.scheduler, "this scheduler leads", 2) - outage.ended_at
    print(  # noqa: T201 - the measured delay, shown by pytest -s
        f"pg: the scheduler led again {led_again:.2f}s after the return"
    )
    assert led_again <= RECOVERY_BOUND_SECONDS
    for job, ran in PERIODIC_RUNS.items():
        _wait_for_count(deployment.scheduler, rf"enqueued {job}", 2)
        _wait_for_count(deployment.worker, ran, 2)
    time.sleep(1)
    for job, ran in PERIODIC_RUNS.items():
        assert _count(rf"enqueued {job}", deployment.scheduler.log()) == 2
        assert _count(ran, deployment.worker.log()) == 2, f"{job} did not run once per enqueue"
    _assert_no_trouble(deployment.api, deployment.worker, deployment.scheduler)
