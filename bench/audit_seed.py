"""The synthetic audit log `bench/audit.py` reads, and the filter values it asks for.

`seed_entries` fills `audit_entries` with one set-based `INSERT ... SELECT FROM
generate_series` per batch. The hash columns hold placeholder bytes (`sha256` of the
sequence number, not of the content), so the chain does not verify: what is measured is
reading, and the columns are as wide as real ones. `read_cases` names the values a run
filters by, from the same formulas (request ids, from the table).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from adapters.sqlalchemy.engine import to_psycopg_url

AUDIT_PATH: Final = "/api/admin/audit"
ACTORS: Final = 3_000
"""User ids the seeded entries name as actors, a few heavy and many light ones."""
TARGET_ARTICLES: Final = 20_000
BATCH: Final = 250_000
SPAN: Final = timedelta(days=365)
ACTIONS: Final = (
    ("article.favorite", "article"),
    ("article.unfavorite", "article"),
    ("user.login", "user"),
    ("session.refresh", "session"),
    ("comment.create", "comment"),
    ("article.update", "article"),
    ("article.create", "article"),
    ("profile.follow", "user"),
    ("profile.unfollow", "user"),
    ("comment.delete", "comment"),
    ("user.logout", "session"),
    ("notification.read", "notification"),
    ("file.upload", "file"),
    ("article.delete", "article"),
    ("user.update", "user"),
    ("push.subscribe", "push_subscription"),
    ("notification.read_all", "user"),
    ("file.delete", "file"),
    ("user.register", "user"),
    ("session.revoke", "session"),
    ("user.logout_all", "user"),
    ("user.email_verify", "user"),
    ("push.unsubscribe", "push_subscription"),
    ("user.password_reset", "user"),
    ("phone.set", "user"),
    ("phone.verify", "user"),
    ("route.access", "route"),
    ("phone.remove", "user"),
    ("user.email_restore", "user"),
    ("article.moderate", "article"),
    ("comment.moderate", "comment"),
    ("user.role_change", "user"),
    ("user.ban", "user"),
    ("user.unban", "user"),
    ("outbox.replay", "outbox"),
    ("audit.checkpoint", "audit"),
    ("audit.archive", "audit"),
    ("file.quarantine", "file"),
    ("notification.preferences", "user"),
    ("session.revoke_all", "user"),
)
"""Forty actions in the app's `context.verb` shape, commonest first (the draw is skewed)."""
_AGENTS: Final = ["Mozilla/5.0 (X11; Linux x86_64) bench", "curl/8.5.0", "portico-ios/1.4"]
# Each entry's draws come from hashes of its sequence number: the same every run. Actors and
# actions are drawn skewed (u squared): actor 0 has ~1.8% of the entries, actor 2999 ~0.02%;
# the first action ~16%, the last ~1.3%. 94% of entries are users' (with a request id, two
# entries per request, an address and an agent), the rest worker, system and CLI. 2% are
# denied, 1% failed. occurred_at grows with seq, evenly over the year before `end`.
_SEED: Final = """
INSERT INTO audit_entries (
    seq, previous_hash, hash, occurred_at, actor_kind, actor_user_id, actor_username,
    actor_process, action, target_type, target_id, outcome, reason, changes, request_id,
    client_ip, user_agent
)
SELECT
    g,
    sha256(int8send(g - 1)),
    sha256(int8send(g)),
    CAST(:start AS timestamptz) + (g - 1) * CAST(:step AS interval),
    kind,
    CASE WHEN kind = 'user' THEN '00000000-0000-7000-8000-' || lpad(to_hex(actor), 12, '0') END,
    CASE WHEN kind = 'user' THEN 'bench-user-' || actor END,
    CASE kind WHEN 'worker' THEN 'portico worker' WHEN 'system' THEN 'portico scheduler'
        WHEN 'cli' THEN 'portico users ban' END,
    (CAST(:actions AS text[]))[verb + 1],
    (CAST(:targets AS text[]))[verb + 1],
    CASE (CAST(:targets AS text[]))[verb + 1]
        WHEN 'article' THEN 'bench-article-' || pick
        WHEN 'user' THEN '00000000-0000-7000-8000-' || lpad(to_hex(pick % :actors), 12, '0')
        WHEN 'route' THEN 'GET /api/admin/audit'
        ELSE md5('bench-target-' || pick)
    END,
    CASE WHEN fate < 20 THEN 'denied' WHEN fate < 30 THEN 'failed' ELSE 'success' END,
    CASE WHEN fate < 20 THEN 'missing_permission' WHEN fate < 30 THEN 'internal_error' END,
    CAST(CASE WHEN right((CAST(:actions AS text[]))[verb + 1], 7) = '.update'
        THEN '[["description", "before", "after"]]' ELSE '[]' END AS jsonb),
    CASE WHEN kind = 'user' THEN md5('bench-request-' || (g / 2)) END,
    CASE WHEN kind = 'user' THEN '10.0.' || (actor / 250) || '.' || (actor % 250) END,
    CASE WHEN kind = 'user' THEN (CAST(:agents AS text[]))[actor % 3 + 1] END
FROM (
    SELECT
        g,
        CASE WHEN mod(hashint8extended(g, 1) & 1048575, 100) < 94 THEN 'user'
            WHEN mod(hashint8extended(g, 1) & 1048575, 100) < 97 THEN 'worker'
            WHEN mod(hashint8extended(g, 1) & 1048575, 100) < 99 THEN 'system'
            ELSE 'cli' END AS kind,
        floor(:actors * power((hashint8extended(g, 2) & 1048575) / 1048576.0, 2))::int AS actor,
        floor(:verbs * power((hashint8extended(g, 3) & 1048575) / 1048576.0, 2))::int AS verb,
        mod(hashint8extended(g, 4) & 1048575, :articles) AS pick,
        mod(hashint8extended(g, 5) & 1048575, 1000) AS fate
    FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS g
) AS drawn
"""


def actor_id(number: int) -> str:
    """The user id the seed gives actor `number`."""
    return f"00000000-0000-7000-8000-{number:012x}"


def _engine(url: str, *, autocommit: bool = False) -> Engine:
    isolation = "AUTOCOMMIT" if autocommit else "READ COMMITTED"
    return sa.create_engine(to_psycopg_url(url), poolclass=NullPool, isolation_level=isolation)


def seed_entries(url: str, entries: int, end: datetime) -> None:
    """Replace the log with `entries` synthetic entries up to `end`; set the head to the last.

    Then VACUUM ANALYZE every table of the schema, as autovacuum would in time.
    """
    engine = _engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("TRUNCATE audit_entries"))
    for first in range(1, entries + 1, BATCH):
        with engine.begin() as connection:
            connection.execute(
                sa.text(_SEED),
                {
                    "first": first,
                    "last": min(entries, first + BATCH - 1),
                    "start": end - SPAN,
                    "step": SPAN / entries,
                    "actions": [action for action, _ in ACTIONS],
                    "targets": [target for _, target in ACTIONS],
                    "agents": _AGENTS,
                    "actors": ACTORS,
                    "verbs": len(ACTIONS),
                    "articles": TARGET_ARTICLES,
                },
            )
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE audit_chain_head SET seq = :n, previous_hash = sha256(int8send(:n - 1)),"
                " hash = sha256(int8send(:n)) WHERE id = 1"
            ),
            {"n": entries},
        )
    engine.dispose()
    vacuum_schema(url)


def vacuum_schema(url: str) -> None:
    """VACUUM ANALYZE the tables of the URL's schema only (the server may hold others)."""
    engine = _engine(url, autocommit=True)
    with engine.connect() as connection:
        tables = connection.execute(
            sa.text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        ).scalars()
        for table in list(tables):
            connection.execute(sa.text(f'VACUUM ANALYZE "{table}"'))
    engine.dispose()


def entries_written(url: str) -> int:
    """How many entries were ever inserted, sealed or not: the identity's last value."""
    engine = _engine(url)
    with engine.connect() as connection:
        last = connection.execute(sa.text("SELECT coalesce(max(id), 0) FROM audit_entries"))
        written = int(last.scalar_one())
    engine.dispose()
    return written


@dataclass(frozen=True, slots=True)
class ReadCase:
    """One row of the read table: a filter, with the values its requests go round."""

    label: str
    queries: list[dict[str, str]]

    def paths(self) -> list[str]:
        """The request paths, one per value."""
        return [f"{AUDIT_PATH}?{urlencode(query)}" for query in self.queries]


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def read_cases(url: str, entries: int, end: datetime, variants: int = 10) -> list[ReadCase]:
    """Every filter the route offers, and one combination, each with `variants` values.

    Actors and actions go from heavy to light ones; time ranges are 30 days, the newest
    ending 60 days before the last entry (so the page is not simply the newest rows).
    """
    actors = [actor_id(round((ACTORS - 1) * (k / (variants - 1)) ** 2)) for k in range(variants)]
    actions = [ACTIONS[round((len(ACTIONS) - 1) * k / (variants - 1))][0] for k in range(variants)]
    engine = _engine(url)
    with engine.connect() as connection:
        request_ids = list(
            connection.execute(
                sa.text(
                    "SELECT request_id FROM audit_entries WHERE seq = ANY(:seqs)"
                    " AND request_id IS NOT NULL ORDER BY seq"
                ),
                {"seqs": [entries * k // (4 * variants) for k in range(1, 4 * variants)]},
            ).scalars()
        )[:variants]
    engine.dispose()
    ranges = [
        (end - timedelta(days=90 + 7 * k), end - timedelta(days=60 + 7 * k))
        for k in range(variants)
    ]
    return [
        ReadCase("no filter", [{}]),
        ReadCase("actorId", [{"actorId": actor} for actor in actors]),
        ReadCase("action", [{"action": action} for action in actions]),
        ReadCase(
            "targetType+targetId",
            [
                {"targetType": "article", "targetId": f"bench-article-{k * 997 % TARGET_ARTICLES}"}
                for k in range(variants)
            ],
        ),
        ReadCase("outcome=denied", [{"outcome": "denied"}]),
        ReadCase(
            "since+until (30 days)",
            [{"since": _iso(since), "until": _iso(until)} for since, until in ranges],
        ),
        ReadCase("requestId", [{"requestId": request_id} for request_id in request_ids]),
        ReadCase(
            "actorId+action+since (90 days)",
            [
                {"actorId": actor, "action": ACTIONS[0][0], "since": _iso(end - timedelta(days=90))}
                for actor in actors
            ],
        ),
    ]
