"""The audit chain on real PostgreSQL: many writers, tampering, retention, and the CLI.

Each test gets a schema of its own, migrated to head. Entries are written through the
tests' audited use case (`tests.support.audit_chain.TurnDial`) and a `SqlAlchemyUnitOfWork`;
the real `portico audit ...` executable then reads, verifies, signs and archives them, as
an operator runs it.
"""

import asyncio
import itertools
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.filesystem.file_storage import LocalFileStorage
from adapters.memory.system import ManualClock, SequentialIdGenerator
from adapters.sqlalchemy.audit import SqlAlchemyAuditLog, SqlAlchemyAuditMaintenance
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from adapters.system.clock import SystemClock
from application.audit.archive_audit_entries import ArchiveAuditEntries
from application.audit.policy import AuditPolicy
from application.audit.ports import CheckpointKind, StoredCheckpoint
from application.audit.sign_audit_checkpoint import SignAuditCheckpoint
from application.audit.verify_audit_chain import ChainReport, VerifyAuditChain
from application.audit.views import entry_document
from application.common.ports.clock import Clock
from domain.audit.chain import canonical_content, checkpoint_is_authentic, link, sign_checkpoint
from domain.audit.entry import AuditEntry, Outcome
from tests.support.audit_chain import (
    TurnDial,
    TurnDialCommand,
    WritePath,
    ready_file,
    relinked,
    seal_everything,
    seal_once,
    turn,
)
from tests.support.postgres import engine_for_tests, isolated_schema, run_alembic
from tests.support.server import PORTICO, clean_env, run_portico

pytestmark = pytest.mark.integration

KEY = "an-audit-signing-key-of-forty-bytes-long"
POLICY = AuditPolicy(signing_key=KEY.encode(), retention=timedelta(days=365))
PROCESSES = 4
PER_PROCESS = 300
PROJECT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass
class Chain:
    """A migrated schema, and the environment `portico` runs against it with."""

    url: str
    engine: AsyncEngine
    env: dict[str, str]
    cwd: Path
    storage: Path

    async def portico(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(run_portico, *args, env={**self.env, **env}, cwd=self.cwd)

    async def write(self, count: int, clock: Clock | None = None) -> None:
        """`count` entries through every write path, in turn, dated by `clock`."""
        clock = clock or SystemClock()
        paths = list(WritePath)
        async with self.engine.connect() as connection:
            uow = SqlAlchemyUnitOfWork(connection, SequentialIdGenerator(), clock)
            use_case = TurnDial(uow, clock)
            for index in range(count):
                path = paths[index % len(paths)]
                await turn(use_case, TurnDialCommand(dial=f"d{index}", to=index, path=path))
                if isinstance(clock, ManualClock):
                    clock.advance(timedelta(minutes=1))
        await seal_everything(self.engine)

    async def entries(self) -> list[AuditEntry]:
        async with self.engine.connect() as connection:
            found = await SqlAlchemyAuditLog(connection).oldest_first(after_seq=0, limit=100_000)
        return list(found)

    async def sql(self, statement: str, **parameters: Any) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(sa.text(statement), parameters)

    async def unsealed(self) -> int:
        async with self.engine.connect() as connection:
            found = await connection.execute(
                sa.text("SELECT count(*) FROM audit_entries WHERE seq IS NULL")
            )
            return int(found.scalar_one())

    async def rewrite(self, entries: list[AuditEntry]) -> None:
        """Store these entries over theirs, and the last as the chain's head: a superuser's edit."""
        async with self.engine.begin() as connection:
            for entry in entries:
                await connection.execute(
                    sa.text(
                        "UPDATE audit_entries SET target_id = :target, previous_hash = :previous, "
                        "hash = :hash WHERE seq = :seq"
                    ),
                    {
                        "target": entry.record.target_id,
                        "previous": entry.previous_hash,
                        "hash": entry.hash,
                        "seq": entry.seq,
                    },
                )
            last = entries[-1]
            await connection.execute(
                sa.text("UPDATE audit_chain_head SET previous_hash = :previous, hash = :hash"),
                {"previous": last.previous_hash, "hash": last.hash},
            )

    async def sign(self) -> None:
        """Sign a checkpoint of the head, as the scheduler's job does."""
        async with self.engine.connect() as connection:
            sign = SignAuditCheckpoint(
                uow=SqlAlchemyUnitOfWork(connection, SequentialIdGenerator()),
                log=SqlAlchemyAuditLog(connection),
                maintenance=SqlAlchemyAuditMaintenance(connection),
                clock=SystemClock(),
                policy=POLICY,
            )
            assert await sign() is not None

    async def verify(self) -> ChainReport:
        async with self.engine.connect() as connection:
            verify = VerifyAuditChain(
                SqlAlchemyAuditLog(connection), SqlAlchemyAuditMaintenance(connection), POLICY
            )
            return await verify()

    async def checkpoints(self) -> list[StoredCheckpoint]:
        async with self.engine.connect() as connection:
            return list(await SqlAlchemyAuditMaintenance(connection).checkpoints())

    async def checkpoint_places(self) -> list[tuple[int, CheckpointKind]]:
        return [(item.checkpoint.seq, item.kind) for item in await self.checkpoints()]


@pytest.fixture
async def chain(postgres_url: str, tmp_path: Path) -> AsyncIterator[Chain]:
    with isolated_schema(postgres_url, prefix="auditchain") as url:
        run_alembic(url, "upgrade", "head")
        engine = engine_for_tests(url)
        env = clean_env(
            DATABASE_URL=url,
            AUDIT_SIGNING_KEY=KEY,
            DATA_DIR=str(tmp_path / "data"),
            STORAGE_BACKEND="local",
            STORAGE_LOCAL_DIR=str(tmp_path / "storage"),
            LOG_LEVEL="WARNING",
        )
        try:
            yield Chain(url, engine, env, tmp_path, tmp_path / "storage")
        finally:
            await engine.dispose()


def documents(lines: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines.splitlines()]


async def test_processes_writing_at_once_make_one_chain_that_verifies(
    chain: Chain, tmp_path: Path
) -> None:
    start = tmp_path / "start"
    writers = [
        await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "tests.support.audit_chain", chain.url),
            *(str(n), str(PER_PROCESS), str(start)),
            cwd=PROJECT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for n in range(PROCESSES)
    ]
    async with asyncio.timeout(60):
        while not all(ready_file(start, n).exists() for n in range(PROCESSES)):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    start.touch()
    began = time.monotonic()
    async with asyncio.timeout(90):
        finished = [await writer.communicate() for writer in writers]
    assert [writer.returncode for writer in writers] == [0] * PROCESSES, finished
    print(f"{PROCESSES} writers took {time.monotonic() - began:.2f}s")  # noqa: T201

    total = PROCESSES * PER_PROCESS
    left = await chain.unsealed()
    assert left < total // 2, "the writers' own sealers chained little while they wrote"
    await seal_everything(chain.engine)
    assert await chain.unsealed() == 0
    entries = await chain.entries()
    assert [entry.seq for entry in entries] == list(range(1, total + 1))
    by_process = Counter(entry.record.actor.process for entry in entries)
    assert by_process == {f"writer-{n}": PER_PROCESS for n in range(PROCESSES)}
    outcomes = Counter((entry.record.outcome, bool(entry.record.changes)) for entry in entries)
    assert outcomes == {
        (Outcome.SUCCESS, True): total // 3,
        (Outcome.DENIED, True): total // 3,
        (Outcome.DENIED, False): total // 3,
    }, "each write path wrote its third"
    handovers = sum(
        1
        for before, after in itertools.pairwise(entries)
        if before.record.actor.process != after.record.actor.process
    )
    assert handovers > 10 * PROCESSES, f"the writers barely overlapped ({handovers} handovers)"

    verified = await chain.portico("audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout == f"checked {total} entries, 1 to {total}, and 0 checkpoints: intact\n"


async def verify_fails(chain: Chain, checked: int, broken: str) -> None:
    """`portico audit verify` stops after `checked` entries at the break `broken` names."""
    result = await chain.portico("audit", "verify")
    assert result.returncode == 1, result.stdout + result.stderr
    summary, line = result.stdout.splitlines()
    assert summary.startswith(f"checked {checked} entries")
    assert summary.endswith(": broken")
    assert line == broken
    seq = broken.split(":", maxsplit=1)[0].removeprefix("entry ")
    (error,) = result.stderr.splitlines()
    assert error.startswith(f"portico: the audit chain does not hold from entry {seq}; ")


async def test_an_entry_edited_in_place_is_named_as_changed(chain: Chain) -> None:
    await chain.write(20)
    await chain.sql("UPDATE audit_entries SET target_id = 'x' WHERE seq = 7")
    await verify_fails(chain, 6, "entry 7: changed: its content does not match its hash")


async def test_deleted_entries_are_named_as_the_missing_range(chain: Chain) -> None:
    await chain.write(20)
    await chain.sql("DELETE FROM audit_entries WHERE seq BETWEEN 7 AND 9")
    await verify_fails(chain, 6, "entry 10: missing: entries 7 to 9 are missing")


async def test_an_entry_rewritten_with_its_hash_redone_leaves_the_next_relinked(
    chain: Chain,
) -> None:
    await chain.write(20)
    entries = await chain.entries()
    forged = replace(entries[6].record, target_id="x")
    await chain.sql(
        "UPDATE audit_entries SET target_id = 'x', hash = :hash WHERE seq = 7",
        hash=link(canonical_content(forged), 7, entries[6].previous_hash),
    )
    await verify_fails(
        chain,
        7,
        "entry 8: relinked: it does not follow entry 7: that entry was rewritten, "
        "or this one was put in out of place",
    )


async def test_a_whole_chain_rewritten_after_a_signed_checkpoint_breaks_the_checkpoint(
    chain: Chain,
) -> None:
    await chain.write(20)
    await chain.sign()
    await chain.write(5)
    entries = await chain.entries()

    # Since the last checkpoint a consistent rewrite goes unnoticed (docs/audit.md) ...
    recent = [replace(e, record=replace(e.record, target_id="y")) for e in entries[20:]]
    await chain.rewrite(relinked(recent, entries[19].hash))
    assert (await chain.verify()).intact

    # ... before it, the checkpoint no longer matches, though every link holds.
    edited = [replace(entries[6], record=replace(entries[6].record, target_id="x"))]
    await chain.rewrite(relinked(edited + entries[7:20] + recent, entries[5].hash))
    result = await chain.portico("audit", "verify")
    assert result.returncode == 1
    summary, line = result.stdout.splitlines()
    assert summary == "checked 25 entries, 1 to 25, and 1 checkpoint: broken"
    assert line.startswith("entry 20: checkpoint: the checkpoint signed at ")
    assert line.endswith(" does not match the chain: entries up to here were rewritten")


async def test_a_checkpoint_not_signed_with_the_key_is_caught(chain: Chain) -> None:
    await chain.write(12)
    entries = await chain.entries()
    forged = sign_checkpoint(
        b"someone else's key, 32 bytes long", seq=10, entry_hash=entries[9].hash, signed_at=T0
    )
    await chain.sql(
        "INSERT INTO audit_checkpoints (seq, kind, hash, signed_at, signature) "
        "VALUES (10, 'periodic', :hash, :signed_at, :signature)",
        hash=forged.hash,
        signed_at=forged.signed_at,
        signature=forged.signature,
    )
    await verify_fails(
        chain, 0, "entry 10: checkpoint: the periodic checkpoint here is not signed with this key"
    )


async def test_retention_archives_old_entries_then_deletes_them_and_verify_still_passes(
    chain: Chain,
) -> None:
    await chain.write(30, ManualClock(datetime.now(UTC) - timedelta(days=400)))
    await chain.write(4)
    await chain.sign()
    await chain.write(6)
    before = await chain.entries()

    archived = await chain.portico("audit", "archive")

    assert archived.returncode == 0, archived.stderr
    key = "audit/archive/0000000000000001-0000000000000030.jsonl"
    assert archived.stdout == f"archived 30 entries through entry 30 (the last batch to {key})\n"
    assert documents((chain.storage / key).read_text()) == [entry_document(e) for e in before[:30]]
    assert await chain.entries() == before[30:]
    assert await chain.checkpoint_places() == [
        (30, CheckpointKind.RETENTION),
        (34, CheckpointKind.PERIODIC),
    ]
    retention = (await chain.checkpoints())[0].checkpoint
    assert retention.hash == before[29].hash
    assert checkpoint_is_authentic(KEY.encode(), retention)
    verified = await chain.portico("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout == "checked 10 entries, 31 to 40, and 2 checkpoints: intact\n"


async def test_retention_goes_batch_by_batch_each_archive_named_by_its_range(
    chain: Chain,
) -> None:
    now = datetime.now(UTC)
    await chain.write(16, ManualClock(now - timedelta(days=30)))
    await chain.write(3, ManualClock(now))
    before = await chain.entries()
    storage = LocalFileStorage(chain.storage)
    async with chain.engine.connect() as connection:
        archive = ArchiveAuditEntries(
            uow=SqlAlchemyUnitOfWork(connection, SequentialIdGenerator()),
            log=SqlAlchemyAuditLog(connection),
            maintenance=SqlAlchemyAuditMaintenance(connection),
            storage=storage,
            clock=SystemClock(),
            policy=AuditPolicy(
                signing_key=KEY.encode(), retention=timedelta(days=7), archive_batch=7
            ),
        )
        report = await archive()
    assert (report.archived, report.through_seq, report.broken) == (16, 16, None)
    names = sorted(path.name for path in (chain.storage / "audit" / "archive").iterdir())
    assert names == [
        "0000000000000001-0000000000000007.jsonl",
        "0000000000000008-0000000000000014.jsonl",
        "0000000000000015-0000000000000016.jsonl",
    ]
    lines = [
        line
        for name in names
        for line in documents((chain.storage / "audit" / "archive" / name).read_text())
    ]
    assert lines == [entry_document(entry) for entry in before[:16]]
    assert await chain.checkpoint_places() == [(16, CheckpointKind.RETENTION)]
    assert await chain.verify() == ChainReport(
        checked=3, first_seq=17, last_seq=19, checkpoints=1, broken=None
    )


async def test_a_break_inside_the_due_batch_stops_retention_and_deletes_nothing(
    chain: Chain,
) -> None:
    await chain.write(30, ManualClock(datetime.now(UTC) - timedelta(days=400)))
    await chain.sql("UPDATE audit_entries SET target_id = 'x' WHERE seq = 12")
    before = await chain.entries()

    result = await chain.portico("audit", "archive")

    assert result.returncode == 1
    assert result.stdout == "entry 12: changed: its content does not match its hash\n"
    (error,) = result.stderr.splitlines()
    assert error.startswith(
        "portico: retention stopped at entry 12: nothing from there on was archived or deleted; "
    )
    assert await chain.entries() == before
    assert await chain.checkpoints() == []
    assert not (chain.storage / "audit").exists()


async def test_tail_export_and_checkpoint_read_and_sign_the_database(chain: Chain) -> None:
    await chain.write(12, ManualClock(T0))
    entries = await chain.entries()

    tail = await chain.portico("audit", "tail", "-n", "3")
    assert tail.returncode == 0, tail.stderr
    assert documents(tail.stdout) == [entry_document(entry) for entry in entries[-3:]]

    since, until = (T0 + timedelta(minutes=3)).isoformat(), "2026-01-05T09:07:00Z"
    exported = await chain.portico("audit", "export", "--since", since, "--until", until)
    assert exported.returncode == 0, exported.stderr
    assert documents(exported.stdout) == [entry_document(entry) for entry in entries[3:7]]
    reversed_range = await chain.portico("audit", "export", "--since", until, "--until", since)
    assert reversed_range.returncode == 2
    assert reversed_range.stdout == ""
    (error,) = reversed_range.stderr.splitlines()
    assert error.startswith("portico: --until (2026-01-05T09:03:00+00:00) is not later than ")

    signed = await chain.portico("audit", "checkpoint", LOG_LEVEL="INFO")
    assert signed.returncode == 0, signed.stderr
    head = entries[-1].hash.hex()
    assert signed.stdout.startswith(f"signed checkpoint: entry 12 has hash {head} (signed ")
    assert f"audit checkpoint: entry 12 has hash {head}" in signed.stderr, "the anchor in the log"
    assert await chain.checkpoint_places() == [(12, CheckpointKind.PERIODIC)]
    assert (await chain.verify()).intact


async def test_tail_follow_prints_new_entries_until_interrupted(chain: Chain) -> None:
    await chain.write(5)
    follower = await asyncio.create_subprocess_exec(
        *(PORTICO, "audit", "tail", "-n", "2", "--follow", "--interval", "0.1"),
        env=chain.env,
        cwd=chain.cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert follower.stdout is not None
    assert follower.stderr is not None
    try:
        async with asyncio.timeout(30):
            shown = [json.loads(await follower.stdout.readline()) for _ in range(2)]
            assert [document["seq"] for document in shown] == [4, 5]
            await chain.write(3)
            more = [json.loads(await follower.stdout.readline()) for _ in range(3)]
            assert [document["seq"] for document in more] == [6, 7, 8]
    finally:
        follower.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            code = await follower.wait()
            rest, stderr = await follower.stdout.read(), await follower.stderr.read()
    assert code == 0, stderr
    assert (rest, stderr) == (b"", b""), "an interrupt ends it quietly"


async def test_one_sealer_works_at_a_time_and_another_leaves_at_once(chain: Chain) -> None:
    async with chain.engine.connect() as holder, chain.engine.connect() as other:
        await chain.write(2)
        async with chain.engine.connect() as writer:
            uow = SqlAlchemyUnitOfWork(writer, SequentialIdGenerator())
            await turn(TurnDial(uow, SystemClock()), TurnDialCommand(dial="late", to=1))
        locked = await SqlAlchemyAuditMaintenance(holder).lock_head()
        assert locked is not None
        assert locked.seq == 2
        async with asyncio.timeout(5):
            assert await seal_once(other) == 0, "a second sealer waited or sealed"
        assert await chain.unsealed() == 1
        await holder.rollback()
        assert await seal_once(other) == 1
    assert [entry.record.target_id for entry in await chain.entries()] == ["d0", "d1", "late"]
