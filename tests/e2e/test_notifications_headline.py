"""The headline: an article reaches its author's followers live and by email, in both modes.

Service mode runs two API processes, a worker, PostgreSQL, Redis, a Kafka-protocol broker and
a real SMTP server; embedded mode runs one `portico serve` beside PostgreSQL and SMTP. The
crash test kills the worker in the middle of a fan-out and checks that a new worker finishes
it with exactly one notification per follower.
"""

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import sqlalchemy as sa

from adapters.sqlalchemy.engine import to_psycopg_url
from adapters.sqlalchemy.tables import articles, follows, notifications, users
from tests.support.kafka_cluster import kafka_mock_cluster
from tests.support.network import free_port
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
    wait_until_live,
)
from tests.support.server import clean_env

pytestmark = pytest.mark.e2e

LIVE_WITHIN_SECONDS = 2.0
FOLLOWERS = 40
BATCH_SIZE = 5
HELD_FOLLOWER = 17
"""The follower whose row the crash test holds: the fourth batch (followers 15 to 19) waits."""
JWT_SECRET = "headline-test-signing-secret-of-32+-bytes"


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
    """Settings for service mode, with names of this test's own on the shared servers."""
    run = uuid.uuid4().hex[:10]
    _, smtp_port = smtp
    with kafka_mock_cluster() as bootstrap:
        yield clean_env(
            DATABASE_URL=migrated_url,
            DATA_DIR=str(tmp_path / "data"),
            JWT_SECRET=JWT_SECRET,
            REDIS_URL=redis_url,
            KAFKA_BOOTSTRAP_SERVERS=bootstrap,
            KAFKA_TOPIC_PREFIX=f"h{run}.",
            KAFKA_CONSUMER_GROUP=f"h{run}",
            JOBS_QUEUE="redis",
            JOBS_STREAM=f"h{run}:jobs",
            REALTIME_CHANNEL_PREFIX=f"h{run}:rt:",
            OUTBOX_RELAY_IN_API="false",
            OUTBOX_POLL_INTERVAL_SECONDS="0.05",
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(smtp_port),
            RATE_LIMIT_AUTH_PER_IP="1000",
        )
    client = redis.Redis.from_url(redis_url)
    stale = [key for pattern in (f"h{run}:*",) for key in client.scan_iter(match=pattern)]
    if stale:
        client.delete(*stale)
    client.close()


def start_api(processes: Processes, name: str, env: dict[str, str]) -> tuple[Process, str]:
    port = free_port()
    process = processes.start(name, ["serve"], {**env, "APP_PORT": str(port)})
    return process, f"http://127.0.0.1:{port}"


def headline(inbox: Inbox, writes_to: str, socket_on: str) -> None:
    """A and B register, B follows A and listens on a socket; A publishes; B hears of it."""
    with httpx.Client(base_url=writes_to, timeout=10) as api:
        author = register(api, "a")
        reader = register(api, "b")
        follow(api, reader, author)
        # The follow tells A by email: once it arrived, the whole pipeline is running.
        inbox.wait_for(sent_to(author.email, reader.username), within=30)
        with open_socket(socket_on, reader) as socket:
            title = f"Launch notes {uuid.uuid4().hex[:6]}"
            article = publish(api, author, title)
            published = time.monotonic()
            live = next_notification(
                socket, lambda n: n["kind"] == "new_article", within=LIVE_WITHIN_SECONDS
            )
            waited = time.monotonic() - published
    assert waited < LIVE_WITHIN_SECONDS
    assert live["actor"] == {"username": author.username}
    assert live["subject"]["type"] == "article"
    assert live["data"]["article_slug"] == article["slug"]
    assert live["data"]["article_title"] == title
    assert live["readAt"] is None
    assert_article_email(inbox, reader, author, article)


def assert_article_email(
    inbox: Inbox, reader: Account, author: Account, article: dict[str, Any]
) -> None:
    subject = f'{author.username} published "{article["title"]}"'
    mail = inbox.wait_for(sent_to(reader.email, subject), within=10)
    message = mail.message
    assert message["To"] == reader.email
    assert message["Subject"] == subject
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    link = f"/article/{article['slug']}"
    for part in (text, html):
        body = part.get_content()  # type: ignore[attr-defined]
        assert article["title"] in body
        assert link in body
    time.sleep(0.5)
    assert len(inbox.matching(sent_to(reader.email, subject))) == 1, "the email was sent twice"


def test_service_mode_two_apis_and_a_worker(
    database: sa.Engine, service_env: dict[str, str], smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, _ = smtp
    with portico_processes(tmp_path) as processes:
        first, first_url = start_api(processes, "serve-1", service_env)
        second, second_url = start_api(processes, "serve-2", service_env)
        worker = processes.start("worker", ["worker"], service_env)
        wait_until_live(first, first_url)
        wait_until_live(second, second_url)
        worker.wait_for_log("worker started", within=30)
        headline(inbox, writes_to=first_url, socket_on=second_url)
        for process in processes.started:
            assert "Traceback" not in process.log(), process.name


def user_id(database: sa.Engine, username: str) -> uuid.UUID:
    with database.connect() as connection:
        found = connection.scalar(sa.select(users.c.id).where(users.c.username == username))
    assert isinstance(found, uuid.UUID)
    return found


def add_followers(database: sa.Engine, followee: uuid.UUID, count: int) -> dict[uuid.UUID, str]:
    """Users who follow `followee`, written straight to the tables; id to email, in id order."""
    now = datetime.now(UTC)
    rows = []
    for _ in range(count):
        name = f"f{uuid.uuid4().hex[:12]}"
        rows.append(
            {
                "id": uuid.uuid4(),
                "username": name,
                "email": f"{name}@test.com",
                "password_hash": "not-a-hash",
                "created_at": now,
                "updated_at": now,
            }
        )
    with database.begin() as connection:
        connection.execute(sa.insert(users), rows)
        connection.execute(
            sa.insert(follows),
            [{"follower_id": r["id"], "followee_id": followee, "created_at": now} for r in rows],
        )
    return {row["id"]: row["email"] for row in sorted(rows, key=lambda row: row["id"])}


def notified(database: sa.Engine, article_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """How many new_article notifications each recipient has for the article."""
    statement = (
        sa.select(notifications.c.recipient_id, sa.func.count())
        .where(
            notifications.c.kind == "new_article",
            notifications.c.subject_type == "article",
            notifications.c.subject_id == str(article_id),
        )
        .group_by(notifications.c.recipient_id)
    )
    with database.connect() as connection:
        return {row[0]: row[1] for row in connection.execute(statement)}


def inserts_blocked_by(database: sa.Engine, pid: int) -> int:
    """Statements inserting notifications that wait for the session `pid`."""
    with database.connect() as connection:
        count = connection.scalar(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE :pid = ANY(pg_blocking_pids(pid)) AND query ILIKE 'INSERT INTO notifications%'"
            ),
            {"pid": pid},
        )
    return int(count or 0)


def wait_until(condition: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within}s")
        time.sleep(0.05)


def test_a_worker_killed_mid_fan_out_is_replaced_and_no_follower_is_missed_or_told_twice(
    database: sa.Engine, service_env: dict[str, str], smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    """The batch in flight dies with the worker; its job is redelivered to the next worker.

    To kill the worker in the middle of the fan-out, every time, the test holds one
    follower's row (FOR UPDATE) from before the publish: the batch notifying that follower
    blocks in its INSERT (the foreign key check), after the earlier batches committed and
    before it enqueued the next one. So only a redelivery of that job can finish the fan-out.
    """
    inbox, _ = smtp
    env = {
        **service_env,
        "NOTIFICATIONS_FAN_OUT_BATCH_SIZE": str(BATCH_SIZE),
        "JOBS_REDELIVER_AFTER_SECONDS": "2",
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
                    sa.select(users.c.id).where(users.c.id == followers[HELD_FOLLOWER]).with_for_update()
                )
                holder_pid = int(holder.scalar(sa.text("SELECT pg_backend_pid()")) or 0)
                article = publish(api, author, f"Crash course {uuid.uuid4().hex[:6]}")
                wait_until(
                    lambda: inserts_blocked_by(database, holder_pid) == 1,
                    within=20,
                    what="a fan-out batch waiting for the held follower",
                )
                with database.connect() as connection:
                    article_id = connection.scalar(
                        sa.select(articles.c.id).where(articles.c.slug == article["slug"])
                    )
                assert isinstance(article_id, uuid.UUID)
                before_the_kill = notified(database, article_id)
                first_worker.kill()
                holder.rollback()
        done = HELD_FOLLOWER // BATCH_SIZE * BATCH_SIZE
        assert len(before_the_kill) == done, "the kill did not land mid-fan-out"
        assert set(before_the_kill) == set(followers[:done])
        processes.start("worker-2", ["worker"], env)
        wait_until(
            lambda: len(notified(database, article_id)) >= FOLLOWERS,
            within=30,
            what="every follower notified",
        )
        time.sleep(0.5)
        after = notified(database, article_id)
        assert set(after) == set(followers), "a follower was missed, or a stranger notified"
        assert set(after.values()) == {1}, "a follower was notified twice"
        subject = f'{author.username} published "{article["title"]}"'
        for address in emails.values():
            inbox.wait_for(sent_to(address, subject), within=10)
