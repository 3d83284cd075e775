"""The headline: a new article reaches its author's followers live and by email.

- Service mode: two `portico serve` processes and one `portico worker`, on PostgreSQL,
  Redis, a Kafka-protocol broker and a real SMTP server. A and B register through the
  first API; B follows A and listens on a WebSocket of the second; A publishes; B hears of
  it within two seconds and gets the email.
- The same with the worker killed (SIGKILL) in the middle of the fan-out to 40 followers:
  a new worker finishes it, and every follower has exactly one notification.
- Embedded mode: the same headline with one `portico serve` and nothing else but SMTP.
"""

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import sqlalchemy as sa

from adapters.sqlalchemy.engine import to_psycopg_url
from adapters.sqlalchemy.tables import (
    users,
)
from tests.support.kafka_cluster import kafka_mock_cluster
from tests.support.network import free_port
from tests.support.notification_fanout import (
    add_followers,
    article_id,
    delivered,
    inserts_blocked_by,
    jobs_settled,
    notified,
    user_id,
)
from tests.support.notifications import (
    Account,
    Inbox,
    Process,
    Processes,
    follow,
    next_notification,
    open_socket,
    portico_processes,
    publish,
    register,
    sent_to,
    smtp_server,
    verify_email,
    wait_until_live,
)
from tests.support.server import clean_env, run_portico

pytestmark = pytest.mark.e2e

LIVE_WITHIN_SECONDS = 2.0
JWT_SECRET = "headline-test-signing-secret-of-at-least-32-bytes"

FOLLOWERS = 40
BATCH_SIZE = 5
HELD_FOLLOWER = 17
"""The follower whose row the crash test holds: the fourth batch (followers 15-19) waits."""

RELAY_IN_API = "outbox relay running in this process"
_TROUBLE = re.compile(r"\bERROR\b|\bCRITICAL\b|Traceback")


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def database(clean_database: Any, migrated_url: str) -> Iterator[sa.Engine]:
    """A synchronous engine on the migrated schema; every table is emptied afterwards."""
    engine = sa.create_engine(to_psycopg_url(migrated_url), poolclass=sa.NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def service_env(
    migrated_url: str, redis_url: str, smtp: tuple[Inbox, int], tmp_path: Path
) -> Iterator[dict[str, str]]:
    """Service mode, with topic, stream and channel names of this test's own."""
    run = f"h{uuid.uuid4().hex[:10]}"
    _, smtp_port = smtp
    # The mock broker logs every request at DEBUG: keep that out of pytest's failure reports.
    mock_log = logging.getLogger("tests.kafka_mock")
    mock_log.propagate = False
    try:
        with kafka_mock_cluster() as bootstrap:
            yield clean_env(
                DATABASE_URL=migrated_url,
                DATA_DIR=str(tmp_path / "data"),
                JWT_SECRET=JWT_SECRET,
                REDIS_URL=redis_url,
                KAFKA_BOOTSTRAP_SERVERS=bootstrap,
                KAFKA_TOPIC_PREFIX=f"{run}.",
                KAFKA_CONSUMER_GROUP=run,
                JOBS_QUEUE="redis",
                JOBS_STREAM=f"{run}:jobs",
                REALTIME_CHANNEL_PREFIX=f"{run}:rt:",
                OUTBOX_RELAY_IN_API="false",
                OUTBOX_POLL_INTERVAL_SECONDS="0.05",
                SMTP_HOST="127.0.0.1",
                SMTP_PORT=str(smtp_port),
                RATE_LIMIT_AUTH_PER_IP="1000",
                RATE_LIMIT_REGISTRATIONS_PER_IP="1000",
            )
    finally:
        mock_log.propagate = True
        client = redis.Redis.from_url(redis_url)
        try:
            client.delete(f"{run}:jobs")
        finally:
            client.close()


def start_api(processes: Processes, name: str, env: dict[str, str]) -> tuple[Process, str]:
    """Start `portico serve` on a free port; the process and its base URL."""
    port = free_port()
    process = processes.start(name, ["serve"], {**env, "APP_PORT": str(port)})
    return process, f"http://127.0.0.1:{port}"


def assert_no_trouble(processes: Processes) -> None:
    for process in processes.started:
        trouble = [line for line in process.log().splitlines() if _TROUBLE.search(line)]
        assert not trouble, f"{process.name} logged:\n" + "\n".join(trouble)


def headline(inbox: Inbox, writes_to: str, socket_on: str) -> None:
    """A and B register and verify their addresses (notification mail goes only to verified
    ones); B follows A and listens on a socket; A publishes; B is told."""
    with httpx.Client(base_url=writes_to, timeout=10) as api:
        author = register(api, "a")
        reader = register(api, "b")
        verify_email(api, inbox, author)
        verify_email(api, inbox, reader)
        follow(api, reader, author)
        # The follow is mailed to A: once that arrived, events, jobs and mail all flow.
        inbox.wait_for(sent_to(author.email, f"{reader.username} started following"), within=30)
        with open_socket(socket_on, reader) as socket:
            title = f"Launch notes {uuid.uuid4().hex[:6]}"
            article = publish(api, author, title)
            published = time.monotonic()
            live = next_notification(
                socket, lambda n: n["kind"] == "new_article", within=LIVE_WITHIN_SECONDS
            )
            waited = time.monotonic() - published
    print(  # noqa: T201 - the measured latency, shown by pytest -s
        f"new_article reached the socket {waited:.3f}s after the publish response"
    )
    assert waited < LIVE_WITHIN_SECONDS
    assert live["actor"] == {"username": author.username}
    assert live["subject"]["type"] == "article"
    assert live["data"]["article_slug"] == article["slug"]
    assert live["data"]["article_title"] == title
    assert live["readAt"] is None
    assert_article_email(inbox, reader, author, article)


def article_subject(author: Account, article: dict[str, Any]) -> str:
    return f'{author.username} published "{article["title"]}"'


def assert_article_email(
    inbox: Inbox, reader: Account, author: Account, article: dict[str, Any]
) -> None:
    subject = article_subject(author, article)
    mail = inbox.wait_for(sent_to(reader.email, subject), within=10)
    message = mail.message
    assert message["To"] == reader.email
    assert message["Subject"] == subject
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    for part in (text, html):
        body = part.get_content()
        assert article["title"] in body
        assert f"/article/{article['slug']}" in body
    time.sleep(0.5)
    assert len(inbox.matching(sent_to(reader.email, subject))) == 1, "the email came twice"


def test_service_mode_an_article_reaches_a_follower_on_another_api_process(
    database: sa.Engine, service_env: dict[str, str], smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, _ = smtp
    with portico_processes(tmp_path) as processes:
        first, first_url = start_api(processes, "serve-1", service_env)
        second, second_url = start_api(processes, "serve-2", service_env)
        worker = processes.start("worker", ["worker"], service_env)
        wait_until_live(first, first_url)
        wait_until_live(second, second_url)
        worker.wait_for_log("worker started: relay, consumers, jobs", within=30)
        headline(inbox, writes_to=first_url, socket_on=second_url)
        assert RELAY_IN_API not in first.log() + second.log()
        assert_no_trouble(processes)


def test_embedded_mode_an_article_reaches_a_follower_in_one_process(
    smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, smtp_port = smtp
    env = clean_env(
        DATA_DIR=str(tmp_path / "data"),
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_port),
        OUTBOX_POLL_INTERVAL_SECONDS="0.05",
        RATE_LIMIT_AUTH_PER_IP="1000",
        RATE_LIMIT_REGISTRATIONS_PER_IP="1000",
    )
    migrated = run_portico("db", "upgrade", env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    with portico_processes(tmp_path) as processes:
        server, url = start_api(processes, "serve", env)
        wait_until_live(server, url)
        headline(inbox, writes_to=url, socket_on=url)
        assert RELAY_IN_API in server.log()
        assert_no_trouble(processes)


def wait_until(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        time.sleep(0.05)


def test_a_worker_killed_mid_fan_out_is_replaced_and_each_follower_is_notified_once(
    database: sa.Engine,
    service_env: dict[str, str],
    smtp: tuple[Inbox, int],
    redis_url: str,
    tmp_path: Path,
) -> None:
    """The batch in flight dies with its worker; its job is redelivered to the next one.

    To kill the worker mid-fan-out every time, the test holds one follower's row (FOR
    UPDATE) from before the publish: the batch that notifies them blocks in its INSERT (on
    the foreign key check), after the earlier batches committed and before it enqueued the
    next. Only the redelivery of that job can finish the fan-out.
    """
    inbox, _ = smtp
    env = {
        **service_env,
        "NOTIFICATIONS_FAN_OUT_BATCH_SIZE": str(BATCH_SIZE),
        "JOBS_REDELIVER_AFTER_SECONDS": "2",
        "NOTIFICATIONS_DELIVERY_STALE_SECONDS": "2",
        "NOTIFICATIONS_DELIVERY_SWEEP_SECONDS": "0.5",
    }
    with portico_processes(tmp_path) as processes:
        api_process, api_url = start_api(processes, "serve", env)
        first_worker = processes.start("worker-1", ["worker"], env)
        wait_until_live(api_process, api_url)
        first_worker.wait_for_log("worker started", within=30)
        with httpx.Client(base_url=api_url, timeout=10) as api:
            author = register(api, "a")
            emails = add_followers(database, user_id(database, author.username), FOLLOWERS)
            followers = list(emails)
            with database.connect() as holder:
                holder.execute(
                    sa.select(users.c.id)
                    .where(users.c.id == followers[HELD_FOLLOWER])
                    .with_for_update()
                )
                holder_pid = int(holder.scalar(sa.text("SELECT pg_backend_pid()")) or 0)
                article = publish(api, author, f"Crash course {uuid.uuid4().hex[:6]}")
                wait_until(
                    lambda: inserts_blocked_by(database, holder_pid) == 1,
                    within=20,
                    what="a fan-out batch waits for the held follower",
                )
                before_the_kill = set(notified(database, article_id(database, article)))
                first_worker.kill()
                holder.rollback()
        committed = HELD_FOLLOWER // BATCH_SIZE * BATCH_SIZE
        assert before_the_kill == set(followers[:committed]), "the kill missed the fan-out"

        processes.start("worker-2", ["worker"], env)
        article_key = article_id(database, article)
        wait_until(
            lambda: (
                len(notified(database, article_key)) == FOLLOWERS
                and jobs_settled(redis_url, env["JOBS_STREAM"])
            ),
            within=30,
            what="every follower notified, every job done",
        )
        counts = notified(database, article_key)
        assert set(counts) == set(followers), "a follower was missed, or a stranger told"
        assert set(counts.values()) == {1}, "a follower was notified twice"

        subject = article_subject(author, article)

        def unsent() -> set[uuid.UUID]:
            sent = delivered(database, article_key)
            return {
                follower
                for follower, address in emails.items()
                if sent.get(follower) != {"in_app", "email"}
                or not inbox.matching(sent_to(address, subject))
            }

        wait_until(
            lambda: not unsent(),
            within=30,
            what="every notification delivered, including those the killed worker committed",
        )
        assert_no_trouble(processes)
