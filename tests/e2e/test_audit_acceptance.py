"""Issue 14's acceptance, against real servers on PostgreSQL, in embedded and service mode.

One scenario (`tests.support.audit_play`) calls every write route and operator command
once, and makes every denied attempt the issue lists, sending its own X-Request-ID, client
address and user agent with each request. Then, as an admin reading `GET /api/admin/audit`
page by page: each act left exactly one entry, with the right outcome, actor, target,
request, client and changes, and nothing else was recorded; each user's own history holds
theirs and nobody else's; no secret the scenario used or saw is in any row of
`audit_entries`; and `portico audit verify` walks the chain to the end.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.audit_ledger import (
    Entry,
    audit_rows,
    leaks,
    read_pages,
    reconcile,
    settled_log,
)
from tests.support.audit_play import Played, play
from tests.support.audit_scenario import Driver, Persona
from tests.support.audit_stack import MODES, audit_stack

pytestmark = pytest.mark.e2e

OWN_HISTORY = {
    "user.register",
    "user.login",
    "user.update",
    "user.verification_resend",
    "user.email_verify",
    "session.refresh",
    "session.revoke",
    "user.logout",
    "user.logout_all",
    "phone.set",
    "phone.verify",
    "phone.remove",
    "push.subscribe",
    "push.unsubscribe",
}
"""What alice did to her own account in the scenario: all of it is in her history."""


@dataclass
class Run:
    """A deployment after the scenario: what was done, and the log an admin reads back."""

    played: Played
    entries: list[Entry]
    pages: list[dict[str, Any]]


@pytest.fixture(scope="module", params=MODES)
def run(
    request: pytest.FixtureRequest,
    postgres_url: str,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Run]:
    mode = request.param
    root = tmp_path_factory.mktemp(f"audit-{mode}")
    with audit_stack(mode, postgres_url, redis_url, root) as stack, Driver(stack) as driver:
        played = play(driver)
        entries, pages = settled_log(driver, played.admin)
        yield Run(played, entries, pages)


def test_every_write_and_refusal_left_its_entry(run: Run) -> None:
    problems, _ = reconcile(run.played.driver.expected, run.entries)
    assert not problems, "\n".join(problems)


def test_nothing_else_was_recorded(run: Run) -> None:
    _, unexplained = reconcile(run.played.driver.expected, run.entries)
    assert not unexplained, "\n".join(json.dumps(entry) for entry in unexplained)


def test_the_admin_pages_through_the_whole_chain_newest_first(run: Run) -> None:
    seqs = [entry["seq"] for entry in run.entries]
    assert seqs == list(range(len(seqs), 0, -1)), "a page skipped or repeated an entry"
    assert len(run.pages) > 1
    assert run.pages[0]["count"] == len(seqs)
    assert run.pages[0]["countCapped"] is False
    for older, newer in zip(run.entries[1:], run.entries, strict=False):
        assert older["hash"] == newer["previousHash"]


def others_of(run: Run, owner: Persona) -> list[str]:
    """What would give away the other people of the scenario, as JSON strings: ids, names,
    addresses, agents."""
    people = [
        p for p in run.played.driver.people() if p.name != owner.name and p.user_id != owner.user_id
    ]
    return [
        json.dumps(value)
        for p in people
        for value in (p.user_id, p.name, p.ip, p.user_agent)
        if value
    ]


def history_of(run: Run, persona: Persona) -> list[Entry]:
    entries, _ = read_pages(run.played.driver, persona, "/api/user/activity")
    return entries


def test_alice_reads_her_sign_ins_sessions_and_account_changes(run: Run) -> None:
    history = history_of(run, run.played.alice)
    actions = {entry["action"] for entry in history}
    assert not OWN_HISTORY - actions, f"missing: {OWN_HISTORY - actions}"
    assert not {"article.publish", "file.upload", "comment.add"} & actions
    credentials = [
        change
        for entry in history
        if entry["action"] == "user.update" and entry["outcome"] == "success"
        for change in entry["changes"]
        if change["field"] == "password"
    ]
    assert credentials == [{"field": "password", "before": "[redacted]", "after": "[redacted]"}]


def test_alice_reads_nothing_of_anybody_else(run: Run) -> None:
    alice = run.played.alice
    history = history_of(run, alice)
    admin_view = {entry["seq"]: entry for entry in run.entries}
    for entry in history:
        full = admin_view[entry["seq"]]
        assert (entry["action"], entry["target"], entry["outcome"]) == (
            full["action"],
            full["target"],
            full["outcome"],
        )
        assert entry["actor"]["userId"] in (alice.user_id, None), entry
    text = json.dumps(history)
    assert [value for value in others_of(run, alice) if value in text] == []


def test_carol_sees_what_was_done_to_her_but_not_by_whom(run: Run) -> None:
    carol = run.played.carol
    history = history_of(run, carol)
    done_to_her = [
        e for e in history if e["action"] in ("user.ban", "user.unban", "user.role_change")
    ]
    assert len(done_to_her) == 6, json.dumps(done_to_her)
    for entry in done_to_her:
        assert entry["actor"]["userId"] is None
        assert entry["actor"]["process"] is None
        assert (entry["clientIp"], entry["userAgent"], entry["requestId"]) == (None, None, None)
    text = json.dumps(history)
    assert [value for value in others_of(run, carol) if value in text] == []


def test_no_secret_reached_any_row(run: Run) -> None:
    rows = audit_rows(run.played.driver.stack.database_url)
    assert len(rows) == len(run.entries)
    secrets = run.played.driver.secrets
    assert len(secrets.found) > 40, "the sweep must look for what the scenario used"
    found = leaks(rows, secrets)
    assert not found, "\n".join(found)


def test_audit_verify_walks_the_chain_to_its_end(run: Run) -> None:
    verified = run.played.driver.cli("audit", "verify")
    last = len(run.entries)
    report = rf"checked {last} entries, 1 to {last}, and [1-9]\d* checkpoints?: intact"
    assert re.fullmatch(report, verified.stdout.strip()), verified.stdout


def test_no_process_failed(run: Run) -> None:
    assert run.played.driver.stack.failures() == []


def test_the_relay_and_sealer_run_where_the_mode_puts_them(run: Run) -> None:
    """Embedded: the API process relays the outbox (and seals the log beside it). Service:
    only the worker does."""
    stack = run.played.driver.stack
    api, *worker = stack.processes
    relays_in_api = "outbox relay running in this process" in api.log()
    assert relays_in_api is (stack.mode == "embedded")
    assert [process.name for process in worker] == ([] if relays_in_api else ["worker"])
