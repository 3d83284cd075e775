"""Reading the audit log back, as an admin through the API and as rows in PostgreSQL, and
holding it against what the scenario expected.

- `read_pages` pages through an audit route by `nextCursor`; `settled_log` waits
  until the sealer has chained everything and every expected entry is readable.
- `reconcile` finds each `Expected` entry, says what differs, and which entries nobody
  expected.
- `audit_rows` dumps every row of `audit_entries`, sealed or not, every column as text;
  `leaks` searches them for each secret and for anything shaped like a JWT, or like a
  piece of one (a value is cut to 200 characters).
"""

import json
import re
import time
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from adapters.sqlalchemy.engine import to_psycopg_url
from tests.support.audit_scenario import Driver, Expected, Persona, Secrets

Entry = dict[str, Any]
PAGE = 50
JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{16,}(?:\.[A-Za-z0-9_-]+){0,2}")
"""A JWT, or the start of one: base64url of a JSON object (``{"``), however it is cut."""


def read_pages(d: Driver, reader: Persona, path: str) -> tuple[list[Entry], list[dict[str, Any]]]:
    """Every entry of a paged audit route, and each page as answered."""
    entries: list[Entry] = []
    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": PAGE, **({"cursor": cursor} if cursor else {})}
        page: dict[str, Any] = d.http(reader, "GET", path, 200, params=params).json()
        pages.append(page)
        entries.extend(page["entries"])
        cursor = page["nextCursor"]
        if cursor is None:
            return entries, pages


def unsealed(database_url: str) -> int:
    """How many entries the sealer has not chained yet."""
    engine = sa.create_engine(to_psycopg_url(database_url), poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            query = sa.text("SELECT count(*) FROM audit_entries WHERE seq IS NULL")
            return int(connection.scalar(query) or 0)
    finally:
        engine.dispose()


def settled_log(
    d: Driver, admin: Persona, within: float = 15
) -> tuple[list[Entry], list[dict[str, Any]]]:
    """The whole log once every expected entry is sealed and nothing waits to be (an entry
    is readable a fraction of a second after its commit; a worker's a little later)."""
    deadline = time.monotonic() + within
    while True:
        entries, pages = read_pages(d, admin, "/api/admin/audit")
        missing = [x for x in d.expected if not candidates(x, entries)]
        if not missing and unsealed(d.stack.database_url) == 0:
            return entries, pages
        if time.monotonic() > deadline:
            return entries, pages
        time.sleep(0.2)


def candidates(expected: Expected, entries: Iterable[Entry]) -> list[Entry]:
    """The entries that are the one `expected` describes (one, unless something is wrong)."""

    def fits(entry: Entry) -> bool:
        if entry["action"] != expected.action:
            return False
        if expected.request_id is not None:
            return bool(entry["requestId"] == expected.request_id)
        process = entry["actor"]["process"] or ""
        if expected.process is not None:
            return entry["actor"]["kind"] == "cli" and process.startswith(f"{expected.process} (")
        return bool(
            entry["actor"]["kind"] == expected.actor_kind
            and entry["target"]["id"] == expected.target_id
        )

    return [entry for entry in entries if fits(entry)]


def differences(expected: Expected, entry: Entry) -> list[str]:
    """What `entry` says otherwise than `expected`, field by field."""
    actor = entry["actor"]
    by_person = expected.actor_kind in ("user", "anonymous")
    wanted: dict[str, object] = {
        "outcome": expected.outcome,
        "reason": expected.reason,
        "actor.kind": expected.actor_kind,
        "actor.userId": expected.actor_id,
        "actor.username": expected.actor_name,
        "target": {"type": expected.target_type, "id": expected.target_id},
        "requestId": expected.request_id if by_person else entry["requestId"],
        "clientIp": expected.client_ip,
        "userAgent": expected.user_agent,
    }
    got: dict[str, object] = {
        "outcome": entry["outcome"],
        "reason": entry["reason"],
        "actor.kind": actor["kind"],
        "actor.userId": actor["userId"],
        "actor.username": actor["username"],
        "target": entry["target"],
        "requestId": entry["requestId"],
        "clientIp": entry["clientIp"],
        "userAgent": entry["userAgent"],
    }
    found = [
        f"{name}: expected {wanted[name]!r}, recorded {got[name]!r}"
        for name in wanted
        if wanted[name] != got[name]
    ]
    if not by_person and not actor["process"]:
        found.append(f"actor.process: a {expected.actor_kind} entry names no process")
    recorded = [(change["field"], change["before"], change["after"]) for change in entry["changes"]]
    found += [
        f"changes: expected {change!r} among {recorded!r}"
        for change in expected.changes
        if change not in recorded
    ]
    return found


def reconcile(expected: list[Expected], entries: list[Entry]) -> tuple[list[str], list[Entry]]:
    """What is wrong with each expected entry, and the entries nobody expected."""
    problems: list[str] = []
    explained: set[int] = set()
    for x in expected:
        found = candidates(x, entries)
        explained.update(entry["seq"] for entry in found)
        if len(found) != x.times:
            shown = "".join(f"\n    {json.dumps(entry)}" for entry in found)
            problems.append(f"{x.describe()}: recorded {len(found)} times, not {x.times}{shown}")
            continue
        for entry in found:
            problems += [f"{x.describe()}: {difference}" for difference in differences(x, entry)]
    return problems, [entry for entry in entries if entry["seq"] not in explained]


def audit_rows(database_url: str) -> list[tuple[str, str]]:
    """Every row of ``audit_entries``, sealed or not: all its columns as JSON text, and the
    same without the time and the hashes (where any six digits may occur by chance)."""
    engine = sa.create_engine(to_psycopg_url(database_url), poolclass=sa.NullPool)
    query = sa.text(
        "SELECT row_to_json(a)::text, "
        "(to_jsonb(a) - 'occurred_at' - 'hash' - 'previous_hash')::text "
        "FROM audit_entries a ORDER BY a.id"
    )
    try:
        with engine.connect() as connection:
            return [(str(whole), str(timeless)) for whole, timeless in connection.execute(query)]
    finally:
        engine.dispose()


def leaks(rows: list[tuple[str, str]], secrets: Secrets) -> list[str]:
    """Each secret found in a row, and each JWT-shaped string, with the row it is in.

    A secret of digits only (a phone code) counts where it stands alone, not inside a
    longer run of letters and digits (an id); the time and hashes are left out for it.
    """
    found = []
    for secret, where in secrets:
        if secret.isdigit():
            alone = re.compile(rf"(?<![0-9A-Za-z]){secret}(?![0-9A-Za-z])")
            hits = [whole for whole, timeless in rows if alone.search(timeless)]
        else:
            hits = [whole for whole, _ in rows if secret in whole]
        found += [f"{where} ({secret!r}) in {row}" for row in hits]
    for whole, _ in rows:
        found += [f"a JWT ({token[:24]}...) in {whole}" for token in JWT_SHAPE.findall(whole)]
    return found
