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
from datetime import UTC, datetime
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

pytestmark = pytest.mark.e2e

DOWN_FOR_SECONDS = 1.5
RECOVERY_BOUND_SECONDS = 10.0
"""Generous: the relay waits at most 5 s between tries, the scheduler checks its lease every
5 s, and a slow machine needs room."""
DRAIN_WITHIN_SECONDS = 30.0
LOAD_BEFORE_SECONDS = 1.0
LOAD_AFTER_SECONDS = 2.0
PAUSE_BETWEEN_WRITES_SECONDS = 0.02
WRITERS = 2
JOBS_CONCURRENCY = 20
NEW_COMMENT_CONSUMER = "notifications.new-comment"
EXPECTED_DELIVERIES = {"in_app": "sent", "email": "sent", "push": "skipped"}
PERIODIC_RUNS = {
    "purge_ended_credentials": r"purged \d+ sessions and \d+ tokens",
    "purge_sent_events": r"purged \d+ sent events",
    "purge_old_notifications": r"purged \d+ old notifications",
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
    stored = _stored(deployment.postgres, prefix)
    assert acknowledged <= set(stored)
    return outage


@dataclass(frozen=True)
class Handled:
    """What became of one stored comment's event."""

    relayed_at: datetime | None
    processed: int
    notifications: int
    deliveries: dict[str, str]


def _stored(postgres: PrivatePostgres, prefix: str) -> dict[str, Handled]:
    """Every stored comment of this phase, by its body, and what became of its event."""
    query = """
        SELECT c.body, o.sent_at,
          (SELECT count(*) FROM processed_events p
            WHERE p.event_id = o.event_id::text AND p.consumer = %(consumer)s),
          (SELECT count(*) FROM notifications n WHERE n.source = o.event_id::text),
          (SELECT coalesce(jsonb_object_agg(d.channel, d.status), '{}'::jsonb)
             FROM notifications n JOIN notification_deliveries d ON d.notification_id = n.id
            WHERE n.source = o.event_id::text)
        FROM comments c
        LEFT JOIN outbox o ON o.aggregate_id = c.id::text AND o.event_type = 'comment.added'
        WHERE c.body LIKE %(prefix)s
    """
    with psycopg.connect(postgres.url) as connection:
        rows = connection.execute(
            query, {"consumer": NEW_COMMENT_CONSUMER, "prefix": f"{prefix}-%"}
        ).fetchall()
    return {
        body: Handled(relayed_at=sent, processed=processed, notifications=made, deliveries=done)
        for body, sent, processed, made, done in rows
    }


def _drained(postgres: PrivatePostgres, prefix: str) -> dict[str, Handled]:
    """Wait until every stored comment of the phase was handled and delivered; the result."""
    deadline = time.monotonic() + DRAIN_WITHIN_SECONDS
    while True:
        stored = _stored(postgres, prefix)
        waiting = {
            body: handled
            for body, handled in stored.items()
            if handled.relayed_at is None
            or handled.processed != 1
            or handled.notifications != 1
            or handled.deliveries != EXPECTED_DELIVERIES
        }
        if not waiting:
            return stored
        if time.monotonic() > deadline:
            sample = dict(list(waiting.items())[:5])
            raise AssertionError(f"{len(waiting)} of {len(stored)} never completed: {sample}")
        time.sleep(0.2)


def _emails_about_comments(data_dir: Path) -> int:
    return sum(
        1 for path in (data_dir / "mail").glob("*.eml") if "commented on" in path.read_text()
    )


def _sent_deliveries(postgres: PrivatePostgres, channel: str) -> int:
    with psycopg.connect(postgres.url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM notification_deliveries WHERE channel = %s AND status = 'sent'",
            (channel,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def _first_after(postgres: PrivatePostgres, query: str, outage: Outage) -> float:
    """Seconds from the return to the earliest time `query` (one timestamp) finds after it."""
    returned = datetime.fromtimestamp(outage.ended_at, UTC)
    with psycopg.connect(postgres.url) as connection:
        row = connection.execute(query, {"returned": returned}).fetchone()
    assert row is not None
    assert row[0] is not None, f"nothing after the return: {query}"
    return float((row[0] - returned).total_seconds())


def _recovery_times(postgres: PrivatePostgres, outage: Outage) -> dict[str, float]:
    """How soon after the return each part of the worker did its work again."""
    return {
        "relay": _first_after(
            postgres, "SELECT min(sent_at) FROM outbox WHERE sent_at > %(returned)s", outage
        ),
        "consumers": _first_after(
            postgres,
            "SELECT min(processed_at) FROM processed_events WHERE processed_at > %(returned)s",
            outage,
        ),
        # Jobs enqueued after the return: only a receiver reading again can have run them.
        "jobs": _first_after(
            postgres,
            """SELECT min(d.updated_at) FROM notification_deliveries d
               JOIN notifications n ON n.id = d.notification_id
               WHERE d.status = 'sent' AND n.created_at > %(returned)s""",
            outage,
        ),
    }


def _assert_handled_once(deployment: Deployment, prefix: str, outage: Outage) -> None:
    """Every event of the phase handled once, its jobs completed, and no email sent twice.

    Every delivery has ended `sent` or `skipped` (`_drained`), and a delivery is recorded
    as sent only after its email was written, so one file per sent email delivery, over
    the whole run, means no email went twice and none was lost.
    """
    handled = _drained(deployment.postgres, prefix)
    emails = _emails_about_comments(deployment.data_dir)
    sent = _sent_deliveries(deployment.postgres, "email")
    assert emails == sent, f"{emails} emails for {sent} sent email deliveries"
    recovery = _recovery_times(deployment.postgres, outage)
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
