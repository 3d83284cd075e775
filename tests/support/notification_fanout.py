"""What a notification fan-out left behind, read straight from PostgreSQL and Redis.

For tests/e2e/test_notifications_headline.py: followers written straight to the tables,
the new_article notifications and sent deliveries per recipient, the inserts a held row
blocks, and whether every job on a Redis stream was read and acknowledged.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

import redis
import sqlalchemy as sa

from adapters.sqlalchemy.tables import (
    articles,
    follows,
    notification_deliveries,
    notifications,
    users,
)


def user_id(database: sa.Engine, username: str) -> uuid.UUID:
    with database.connect() as connection:
        found = connection.scalar(sa.select(users.c.id).where(users.c.username == username))
    assert isinstance(found, uuid.UUID)
    return found


def add_followers(database: sa.Engine, followee: uuid.UUID, count: int) -> dict[uuid.UUID, str]:
    """Users (their addresses verified) following `followee`, written straight to the tables;
    id to email, by id."""
    now = datetime.now(UTC)
    emails = {uuid.uuid4(): f"f{uuid.uuid4().hex[:12]}@test.com" for _ in range(count)}
    with database.begin() as connection:
        connection.execute(
            sa.insert(users),
            [
                {
                    "id": id_,
                    "username": address.partition("@")[0],
                    "email": address,
                    "password_hash": "not-a-hash",
                    "email_verified_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for id_, address in emails.items()
            ],
        )
        connection.execute(
            sa.insert(follows),
            [{"follower_id": id_, "followee_id": followee, "created_at": now} for id_ in emails],
        )
    return {id_: emails[id_] for id_ in sorted(emails)}


def article_id(database: sa.Engine, article: dict[str, Any]) -> uuid.UUID:
    with database.connect() as connection:
        found = connection.scalar(
            sa.select(articles.c.id).where(articles.c.slug == article["slug"])
        )
    assert isinstance(found, uuid.UUID)
    return found


def article_notifications(key: uuid.UUID) -> sa.Select[Any]:
    return sa.select(notifications.c.id, notifications.c.recipient_id).where(
        notifications.c.kind == "new_article",
        notifications.c.subject_type == "article",
        notifications.c.subject_id == str(key),
    )


def notified(database: sa.Engine, key: uuid.UUID) -> dict[uuid.UUID, int]:
    """How many new_article notifications of the article each recipient has."""
    rows = article_notifications(key).subquery()
    statement = sa.select(rows.c.recipient_id, sa.func.count()).group_by(rows.c.recipient_id)
    with database.connect() as connection:
        return {row[0]: row[1] for row in connection.execute(statement)}


def delivered(database: sa.Engine, key: uuid.UUID) -> dict[uuid.UUID, set[str]]:
    """The channels each recipient's notification of the article was sent on."""
    rows = article_notifications(key).subquery()
    statement = sa.select(rows.c.recipient_id, notification_deliveries.c.channel).join(
        notification_deliveries,
        sa.and_(
            notification_deliveries.c.notification_id == rows.c.id,
            notification_deliveries.c.status == "sent",
        ),
    )
    sent: dict[uuid.UUID, set[str]] = {}
    with database.connect() as connection:
        for recipient, channel in connection.execute(statement):
            sent.setdefault(recipient, set()).add(channel)
    return sent


def inserts_blocked_by(database: sa.Engine, pid: int) -> int:
    """Statements inserting notifications that wait for the session `pid`."""
    with database.connect() as connection:
        count = connection.scalar(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"
                " AND query ILIKE 'INSERT INTO notifications%'"
            ),
            {"pid": pid},
        )
    return int(count or 0)


def jobs_settled(redis_url: str, stream: str) -> bool:
    """Whether every job on the stream was read, and every one read was acknowledged."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        last = client.xinfo_stream(stream)["last-generated-id"]
        groups = client.xinfo_groups(stream)
    finally:
        client.close()
    return all(g["pending"] == 0 and g["last-delivered-id"] == last for g in groups)
