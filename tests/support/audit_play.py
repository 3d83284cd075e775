"""The whole audit acceptance scenario, in order: every write route and operator command
once, and every denied attempt issue 14 lists, by five people and an operator.

- admin: made by `portico users create-admin`; changes carol's role and bans over HTTP,
  and reads the log back.
- alice: writes, uploads, reads her notifications, proves a phone number, subscribes to
  push, changes her email and password, and ends her sessions in every way there is.
- bob: follows, favorites and comments; is refused alice's article (403), her private file
  and her session (404), and the admins' audit route (403).
- carol: promoted, banned (her sign-in is refused) and unbanned by an operator and an admin.
- erin: takes back a changed email address and resets a forgotten password.
- mallory: signs in from one address until its rate limit refuses her.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from tests.support import audit_account_flows as accounts
from tests.support import audit_content_flows as content
from tests.support.audit_account_flows import link_tokens_mailed
from tests.support.audit_scenario import Driver, Persona, strong_password


@dataclass
class Played:
    """What the scenario did: its driver (expectations, secrets) and its people."""

    driver: Driver
    admin: Persona
    alice: Persona
    bob: Persona
    carol: Persona
    erin: Persona


def operators(d: Driver, since: datetime) -> None:
    """The operator's other commands: replay and purge the outbox, collect file garbage,
    seed demo content, and sign a checkpoint of the chain (which is no entry of its own)."""
    d.cli("outbox", "replay", "--since", since.isoformat())
    d.expect_cli("outbox replay", "outbox.replay", "outbox", None)
    d.cli("outbox", "purge")
    d.expect_cli("outbox purge", "outbox.purge", "outbox", None)
    d.cli("files", "gc")
    d.expect_cli("files gc", "file.collect_garbage", "file", None)
    seed_password = strong_password("seed")
    d.secrets.add(seed_password, "the demo users' password")
    d.cli(
        "seed",
        "--users",
        "1",
        "--articles",
        "0",
        "--comments",
        "0",
        "--password-stdin",
        stdin=f"{seed_password}\n",
    )
    d.expect_cli("seed", "demo.seed", "demo", None)
    d.cli("audit", "checkpoint")


def play(d: Driver) -> Played:
    """Run the scenario through `d`; what it did."""
    since = datetime.now(UTC)
    admin = accounts.create_admin(d)
    alice, bob, carol, erin = (
        accounts.register(d, label) for label in ("alice", "bob", "carol", "erin")
    )
    accounts.verify_by_page(d, bob)
    slug = content.publish_and_edit(d, alice, bob)
    content.reactions(d, alice, bob, slug)
    content.files(d, alice, bob, slug)
    content.notifications(d, alice)
    content.phone_and_push(d, alice)
    accounts.profile_and_credentials(d, alice)
    accounts.recovery(d, erin)
    accounts.roles_and_bans(d, admin, carol)
    accounts.refusals_at_the_edge(d, bob)
    accounts.sessions(d, alice, bob)
    content.delete_article(d, alice, slug)
    operators(d, since)
    for token, where in link_tokens_mailed(d.stack.data_dir):
        d.secrets.add(token, where)
    return Played(driver=d, admin=admin, alice=alice, bob=bob, carol=carol, erin=erin)
