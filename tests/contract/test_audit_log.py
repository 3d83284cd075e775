"""The `AuditLog` and `AuditMaintenance` contracts on the memory and PostgreSQL adapters.

Entries go in as the application writes them, through a unit of work: an audited use case's
commit, its commit that records a refusal, its refusal in a transaction of its own, and a
bare `record_refusal`. They must read back identically, filter for filter, on both.
"""

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory.audit import InMemoryAuditLog, InMemoryAuditMaintenance
from adapters.memory.database import InMemoryDatabase
from adapters.memory.system import ManualClock, SequentialIdGenerator
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from adapters.sqlalchemy.audit import SqlAlchemyAuditLog, SqlAlchemyAuditMaintenance
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.audit.context import ClientContext, acting_as, current_client
from application.audit.ports import (
    AuditFilter,
    AuditLog,
    AuditMaintenance,
    ChainHead,
    CheckpointKind,
    StoredCheckpoint,
)
from application.audit.seal_audit_entries import SealAuditEntries
from application.common.correlation import current_request_id
from application.common.ports.unit_of_work import UnitOfWork
from domain.audit.chain import GENESIS, canonical_content, link, sign_checkpoint
from domain.audit.entry import ActorKind, AuditActor, AuditEntry, AuditRecord, Outcome
from domain.shared.changes import REDACTED, FieldChange
from tests.support.audit_chain import (
    DIAL_ACTION,
    TurnDial,
    TurnDialCommand,
    WritePath,
    reset_audit_log,
    turn,
)
from tests.support.postgres import engine_for_tests

T = TypeVar("T")
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEY = b"k" * 32
ADA = AuditActor.user("u-ada", "ada")
BOB = AuditActor.user("u-bob", "bob")
ADMIN = AuditActor.user("u-admin", "root")
CLI = AuditActor.process_of(ActorKind.CLI, "portico users ban (host:1)")


Session = tuple[UnitOfWork, AuditLog, AuditMaintenance]


class Adapter:
    """Opens sessions of one adapter: a unit of work and the audit ports, sharing storage."""

    def __init__(self) -> None:
        self.clock = ManualClock(START)
        self.ids = SequentialIdGenerator()

    def session(self) -> AbstractAsyncContextManager[Session]:
        raise NotImplementedError

    async def turn(
        self, command: TurnDialCommand, actor: AuditActor = ADA, *, sealed: bool = True
    ) -> None:
        """Run the tests' audited use case as `actor`, from a known client and request."""
        client = current_client.set(ClientContext("203.0.113.9", "dial-client/1.0"))
        request = current_request_id.set(f"req-{command.dial}")
        try:
            async with self.session() as (uow, _log, _maintenance):
                with acting_as(actor):
                    await turn(TurnDial(uow, self.clock), command)
        finally:
            current_request_id.reset(request)
            current_client.reset(client)
        if sealed:
            await self.seal()

    async def refuse(self, *records: AuditRecord, sealed: bool = True) -> None:
        """Write each record as a refusal, in a transaction of its own."""
        async with self.session() as (uow, _log, _maintenance):
            for record in records:
                await uow.record_refusal(record)
        if sealed:
            await self.seal()

    async def seal(self) -> int:
        """Chain what waits, as the sealer beside the relay does; how many it chained."""
        sealed = 0
        while True:
            async with self.session() as (uow, _log, maintenance):
                count = await SealAuditEntries(uow, maintenance)()
            if not count:
                return sealed
            sealed += count

    async def pending(self) -> list[AuditRecord]:
        async with self.session() as (_uow, _log, maintenance):
            return [item.record for item in await maintenance.pending(1000)]

    async def read(self, query: Callable[[AuditLog], Awaitable[T]]) -> T:
        async with self.session() as (_uow, log, _maintenance):
            return await query(log)

    async def maintain(
        self, change: Callable[[AuditMaintenance], Awaitable[T]], *, commit: bool = True
    ) -> T:
        async with self.session() as (uow, _log, maintenance), uow:
            result = await change(maintenance)
            if commit:
                await uow.commit()
        return result

    async def everything(self) -> list[AuditEntry]:
        return list(await self.read(lambda log: log.oldest_first(after_seq=0, limit=1000)))


class MemoryAdapter(Adapter):
    def __init__(self) -> None:
        super().__init__()
        self._database = InMemoryDatabase()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        database = self._database
        yield (
            InMemoryUnitOfWork(database, self.ids, self.clock),
            InMemoryAuditLog(database),
            InMemoryAuditMaintenance(database),
        )


class SqlAdapter(Adapter):
    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__()
        self._engine = engine

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        async with self._engine.connect() as connection:
            yield (
                SqlAlchemyUnitOfWork(connection, self.ids, self.clock),
                SqlAlchemyAuditLog(connection),
                SqlAlchemyAuditMaintenance(connection),
            )


@pytest.fixture(params=["memory", pytest.param("sqlalchemy", marks=pytest.mark.integration)])
async def adapter(request: pytest.FixtureRequest) -> AsyncIterator[Adapter]:
    if request.param == "memory":
        yield MemoryAdapter()
        return
    engine = engine_for_tests(request.getfixturevalue("migrated_url"))
    await reset_audit_log(engine)
    try:
        yield SqlAdapter(engine)
    finally:
        await reset_audit_log(engine)
        await engine.dispose()


def record(
    minutes: int,
    *,
    actor: AuditActor = ADA,
    action: str = "article.update",
    target: tuple[str, str | None] = ("article", "how-to"),
    outcome: Outcome = Outcome.SUCCESS,
    request_id: str | None = None,
    changes: tuple[FieldChange, ...] = (),
) -> AuditRecord:
    return AuditRecord(
        occurred_at=START + timedelta(minutes=minutes),
        actor=actor,
        action=action,
        target_type=target[0],
        target_id=target[1],
        outcome=outcome,
        reason=None if outcome is Outcome.SUCCESS else "not_article_author",
        changes=changes,
        request_id=request_id,
        client_ip="198.51.100.7" if actor.kind is ActorKind.USER else None,
        user_agent="Mozilla/5.0 ünïcode ✓" if actor.kind is ActorKind.USER else None,
    )


MIXED = [
    record(0, changes=(FieldChange.of("title", "Old", "New"), FieldChange.of("password", 1, 2))),
    record(1, actor=BOB, outcome=Outcome.DENIED, request_id="req-b"),
    record(2, actor=CLI, action="user.ban", target=("user", "u-ada"), request_id="req-c"),
    record(3, actor=ADA, action="user.login", target=("user", "u-ada")),
    record(4, actor=BOB, action="article.delete", target=("article", "other")),
    record(5, actor=ADA, action="article.update", outcome=Outcome.FAILED, request_id="req-b"),
    record(6, actor=AuditActor.anonymous(), action="user.login", target=("user", None)),
    record(7, actor=ADMIN, action="user.role_change", target=("user", "u-ada")),
    record(8, actor=ADA, action="session.revoke", target=("session", "s-1")),
    record(9, actor=BOB, action="user.login", target=("user", "u-bob")),
    record(10, actor=ADMIN, action="article.update", target=("article", "u-ada")),
]
"""Every filter matches some of these and misses others."""


async def test_every_write_path_reads_back_whole_and_chained(adapter: Adapter) -> None:
    await adapter.turn(TurnDialCommand(dial="d1", to=5))
    adapter.clock.advance(timedelta(seconds=1))
    await adapter.turn(TurnDialCommand(dial="d2", to=6, path=WritePath.COMMIT_REFUSING), BOB)
    adapter.clock.advance(timedelta(seconds=1))
    await adapter.turn(TurnDialCommand(dial="d3", to=7, path=WritePath.REFUSAL), CLI)
    await adapter.refuse(MIXED[0])

    entries = await adapter.everything()
    assert [entry.seq for entry in entries] == [1, 2, 3, 4]
    first, second, third, fourth = (entry.record for entry in entries)
    assert first == AuditRecord(
        occurred_at=START,
        actor=ADA,
        action=DIAL_ACTION,
        target_type="dial",
        target_id="d1",
        outcome=Outcome.SUCCESS,
        changes=(FieldChange("position", 0, 5),),
        request_id="req-d1",
        client_ip="203.0.113.9",
        user_agent="dial-client/1.0",
    )
    assert (second.actor, second.outcome, second.reason) == (BOB, Outcome.DENIED, "dial_locked")
    assert second.changes == (FieldChange("position", 0, 6),)
    assert second.occurred_at == START + timedelta(seconds=1)
    assert (third.actor, third.outcome, third.reason, third.changes) == (
        CLI,
        Outcome.DENIED,
        "dial_locked",
        (),
    )
    assert (third.target_id, third.occurred_at) == ("d3", START + timedelta(seconds=2))
    assert fourth == MIXED[0]
    assert fourth.changes[1] == FieldChange("password", REDACTED, REDACTED)
    previous = GENESIS
    for entry in entries:
        assert entry.previous_hash == previous
        assert entry.hash == link(canonical_content(entry.record), entry.seq, previous)
        previous = entry.hash
    assert await adapter.read(lambda log: log.head()) == ChainHead(4, previous)


async def test_readers_see_sealed_entries_only_and_the_seal_keeps_the_write_order(
    adapter: Adapter,
) -> None:
    await adapter.refuse(MIXED[0])
    await adapter.turn(TurnDialCommand(dial="d1", to=5), sealed=False)
    await adapter.refuse(*MIXED[1:4], sealed=False)
    await adapter.turn(TurnDialCommand(dial="d2", to=6, path=WritePath.REFUSAL), sealed=False)

    visible = [entry.record for entry in await adapter.everything()]
    waiting = await adapter.pending()
    assert visible[:1] == [MIXED[0]]
    assert len(visible) + len(waiting) == 6, "an entry is neither visible nor waiting"
    head = await adapter.read(lambda log: log.head())
    assert head.seq == len(visible)
    count = await adapter.read(lambda log: log.count(AuditFilter(), cap=100))
    assert count == len(visible)
    assert await adapter.seal() == len(waiting)

    records = [entry.record for entry in await adapter.everything()]
    assert visible + waiting == records
    assert [(r.target_id, r.action) for r in records[1:2] + records[5:]] == [
        ("d1", DIAL_ACTION),
        ("d2", DIAL_ACTION),
    ]
    assert records[2:5] == MIXED[1:4]
    assert await adapter.pending() == []
    assert await adapter.seal() == 0


async def test_an_empty_log_has_its_head_at_genesis(adapter: Adapter) -> None:
    assert await adapter.read(lambda log: log.head()) == ChainHead(0, GENESIS)
    assert await adapter.read(lambda log: log.newest(AuditFilter(), before_seq=None, limit=5)) == []
    assert await adapter.read(lambda log: log.count(AuditFilter(), cap=5)) == 0


FILTERS = {
    "none": AuditFilter(),
    "actor": AuditFilter(actor_id="u-ada"),
    "action": AuditFilter(action="user.login"),
    "target type": AuditFilter(target_type="user"),
    "target": AuditFilter(target_type="article", target_id="how-to"),
    "denied": AuditFilter(outcome=Outcome.DENIED),
    "failed": AuditFilter(outcome=Outcome.FAILED),
    "since": AuditFilter(since=START + timedelta(minutes=7)),
    "until": AuditFilter(until=START + timedelta(minutes=3)),
    "range": AuditFilter(since=START + timedelta(minutes=2), until=START + timedelta(minutes=5)),
    "request": AuditFilter(request_id="req-b"),
    "together": AuditFilter(actor_id="u-bob", action="user.login", outcome=Outcome.SUCCESS),
    "nothing": AuditFilter(actor_id="u-nobody"),
}


def matches(entry: AuditEntry, filters: AuditFilter) -> bool:
    """The filter's meaning, written out: `since` inclusive, `until` exclusive."""
    found = entry.record
    wanted = [
        filters.actor_id in (None, found.actor.user_id),
        filters.action in (None, found.action),
        filters.target_type in (None, found.target_type),
        filters.target_id in (None, found.target_id),
        filters.outcome in (None, found.outcome),
        filters.request_id in (None, found.request_id),
        filters.since is None or found.occurred_at >= filters.since,
        filters.until is None or found.occurred_at < filters.until,
    ]
    return all(wanted)


async def newest_two(
    filters: AuditFilter, before: int | None, log: AuditLog
) -> Sequence[AuditEntry]:
    return await log.newest(filters, before_seq=before, limit=2)


async def oldest_four(after: int, log: AuditLog) -> Sequence[AuditEntry]:
    return await log.oldest_first(after_seq=after, limit=4)


@pytest.mark.parametrize("filters", FILTERS.values(), ids=FILTERS.keys())
async def test_newest_and_count_honour_every_filter(adapter: Adapter, filters: AuditFilter) -> None:
    await adapter.refuse(*MIXED)
    entries = await adapter.everything()
    expected = [entry for entry in reversed(entries) if matches(entry, filters)]

    whole = await adapter.read(lambda log: log.newest(filters, before_seq=None, limit=100))
    assert list(whole) == expected
    paged: list[AuditEntry] = []
    before: int | None = None
    while True:
        page = await adapter.read(functools.partial(newest_two, filters, before))
        assert len(page) <= 2
        paged.extend(page)
        if len(page) < 2:
            break
        before = page[-1].seq
    assert paged == expected
    assert await adapter.read(lambda log: log.count(filters, cap=100)) == len(expected)
    assert await adapter.read(lambda log: log.count(filters, cap=2)) == min(2, len(expected))
    after_two = await adapter.read(
        lambda log: log.oldest_first(after_seq=2, limit=100, filters=filters)
    )
    assert list(after_two) == [
        entry for entry in entries if entry.seq > 2 and matches(entry, filters)
    ]


async def test_of_user_holds_what_they_did_and_what_was_done_to_their_account(
    adapter: Adapter,
) -> None:
    await adapter.refuse(*MIXED)
    entries = await adapter.everything()
    actions = ["user.login", "user.ban", "user.role_change", "session.revoke", "article.update"]

    mine = await adapter.read(lambda log: log.of_user("u-ada", actions, before_seq=None, limit=100))
    # theirs (1, 4, 6, 9), done to their account (3, 8); not another user's, not an
    # article whose id happens to be theirs (11), not an action left out
    assert [entry.seq for entry in mine] == [9, 8, 6, 4, 3, 1]
    assert list(mine) == [entries[seq - 1] for seq in (9, 8, 6, 4, 3, 1)]
    page = await adapter.read(lambda log: log.of_user("u-ada", actions, before_seq=8, limit=2))
    assert [entry.seq for entry in page] == [6, 4]
    only_logins = await adapter.read(
        lambda log: log.of_user("u-ada", ["user.login"], before_seq=None, limit=100)
    )
    assert [entry.seq for entry in only_logins] == [4]
    assert (
        await adapter.read(
            lambda log: log.of_user("u-bob", ["user.ban"], before_seq=None, limit=100)
        )
        == []
    )


async def test_oldest_first_walks_the_chain_in_batches(adapter: Adapter) -> None:
    await adapter.refuse(*MIXED)
    walked: list[int] = []
    after = 0
    while batch := await adapter.read(functools.partial(oldest_four, after)):
        walked.extend(entry.seq for entry in batch)
        after = batch[-1].seq
    assert walked == list(range(1, len(MIXED) + 1))


def checkpoint_at(
    seq: int, entry_hash: bytes, kind: CheckpointKind, minutes: int = 0
) -> StoredCheckpoint:
    signed = sign_checkpoint(
        KEY, seq=seq, entry_hash=entry_hash, signed_at=START + timedelta(minutes=minutes)
    )
    return StoredCheckpoint(signed, kind)


async def test_checkpoints_are_kept_once_per_entry_and_kind_in_ascending_order(
    adapter: Adapter,
) -> None:
    later = checkpoint_at(7, b"\x07" * 32, CheckpointKind.PERIODIC)
    earlier = checkpoint_at(3, b"\x03" * 32, CheckpointKind.PERIODIC)
    retention = checkpoint_at(3, b"\x03" * 32, CheckpointKind.RETENTION)
    resigned = checkpoint_at(7, b"\x07" * 32, CheckpointKind.PERIODIC, minutes=5)

    async def add(maintenance: AuditMaintenance) -> None:
        for stored in (later, earlier, retention, later, resigned):
            await maintenance.add_checkpoint(stored)

    await adapter.maintain(add)
    kept = await adapter.maintain(lambda maintenance: maintenance.checkpoints(), commit=False)
    assert [item.checkpoint.seq for item in kept] == [3, 3, 7]
    assert set(kept[:2]) == {earlier, retention}
    assert kept[2] == later, "a repeat replaced the checkpoint first kept"


async def test_a_checkpoint_not_committed_is_not_kept(adapter: Adapter) -> None:
    stored = checkpoint_at(1, b"\x01" * 32, CheckpointKind.PERIODIC)
    await adapter.maintain(lambda maintenance: maintenance.add_checkpoint(stored), commit=False)
    assert await adapter.maintain(lambda m: m.checkpoints(), commit=False) == []


async def test_delete_through_moves_the_start_and_keeps_the_head(adapter: Adapter) -> None:
    await adapter.refuse(*MIXED)
    entries = await adapter.everything()
    old_start = checkpoint_at(2, entries[1].hash, CheckpointKind.RETENTION)
    periodic = checkpoint_at(3, entries[2].hash, CheckpointKind.PERIODIC)
    await adapter.maintain(lambda m: m.add_checkpoint(old_start))
    await adapter.maintain(lambda m: m.add_checkpoint(periodic))
    new_start = checkpoint_at(5, entries[4].hash, CheckpointKind.RETENTION, minutes=1)

    deleted = await adapter.maintain(lambda m: m.delete_through(5, start=new_start))

    assert deleted == 5
    assert await adapter.everything() == entries[5:]
    assert await adapter.maintain(lambda m: m.checkpoints(), commit=False) == [periodic, new_start]
    head = ChainHead(len(MIXED), entries[-1].hash)
    assert await adapter.read(lambda log: log.head()) == head
    assert await adapter.read(lambda log: log.count(AuditFilter(), cap=100)) == len(MIXED) - 5
    await adapter.refuse(replace(MIXED[0], target_id="after"))
    (newest,) = await adapter.read(lambda log: log.newest(AuditFilter(), before_seq=None, limit=1))
    assert (newest.seq, newest.previous_hash) == (len(MIXED) + 1, entries[-1].hash)


async def test_delete_through_rolled_back_deletes_nothing(adapter: Adapter) -> None:
    await adapter.refuse(*MIXED[:4])
    entries = await adapter.everything()
    start = checkpoint_at(3, entries[2].hash, CheckpointKind.RETENTION)
    await adapter.maintain(lambda m: m.delete_through(3, start=start), commit=False)
    assert await adapter.everything() == entries
    assert await adapter.maintain(lambda m: m.checkpoints(), commit=False) == []
