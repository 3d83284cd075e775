"""What became of the comments of a worker-faults run, read from its PostgreSQL and mail.

For tests/e2e/test_worker_faults.py: each comment's event (relayed, processed, notified,
delivered), the emails written, and how soon after a server's return each part of the
worker did its work again.
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from tests.support.faults import Outage, PrivatePostgres

DRAIN_WITHIN_SECONDS = 30.0
NEW_COMMENT_CONSUMER = "notifications.new-comment"
EXPECTED_DELIVERIES = {"in_app": "sent", "email": "sent", "push": "skipped"}


@dataclass(frozen=True)
class Handled:
    """What became of one stored comment's event."""

    relayed_at: datetime | None
    processed: int
    notifications: int
    deliveries: dict[str, str]


def stored_comments(postgres: PrivatePostgres, prefix: str) -> dict[str, Handled]:
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


def drained(postgres: PrivatePostgres, prefix: str) -> dict[str, Handled]:
    """Wait until every stored comment of the phase was handled and delivered; the result."""
    deadline = time.monotonic() + DRAIN_WITHIN_SECONDS
    while True:
        stored = stored_comments(postgres, prefix)
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


def emails_about_comments(data_dir: Path) -> int:
    return sum(
        1 for path in (data_dir / "mail").glob("*.eml") if "commented on" in path.read_text()
    )


def sent_deliveries(postgres: PrivatePostgres, channel: str) -> int:
    with psycopg.connect(postgres.url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM notification_deliveries WHERE channel = %s AND status = 'sent'",
            (channel,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def first_after(postgres: PrivatePostgres, query: str, outage: Outage) -> float:
    """Seconds from the return to the earliest time `query` (one timestamp) finds after it."""
    returned = datetime.fromtimestamp(outage.ended_at, UTC)
    with psycopg.connect(postgres.url) as connection:
        row = connection.execute(query, {"returned": returned}).fetchone()
    assert row is not None
    assert row[0] is not None, f"nothing after the return: {query}"
    return float((row[0] - returned).total_seconds())


def recovery_times(postgres: PrivatePostgres, outage: Outage) -> dict[str, float]:
    """How soon after the return each part of the worker did its work again."""
    return {
        "relay": first_after(
            postgres, "SELECT min(sent_at) FROM outbox WHERE sent_at > %(returned)s", outage
        ),
        "consumers": first_after(
            postgres,
            "SELECT min(processed_at) FROM processed_events WHERE processed_at > %(returned)s",
            outage,
        ),
        # Jobs enqueued after the return: only a receiver reading again can have run them.
        "jobs": first_after(
            postgres,
            """SELECT min(d.updated_at) FROM notification_deliveries d
               JOIN notifications n ON n.id = d.notification_id
               WHERE d.status = 'sent' AND n.created_at > %(returned)s""",
            outage,
        ),
    }
