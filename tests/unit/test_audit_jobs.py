"""The audit log's periodic jobs as the worker runs them: the checkpoint and the retention.

The application's container on the in-memory twins; each job is run by its name, as a
message from `portico scheduler` names it.
"""

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from dishka import AsyncContainer
from loguru import logger

from adapters.memory.audit import CHECKPOINTS, ENTRIES
from adapters.memory.database import InMemoryDatabase
from adapters.memory.system import SequentialIdGenerator
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from application.audit.archive_audit_entries import ARCHIVE_AUDIT_ENTRIES
from application.audit.ports import CheckpointKind
from application.audit.sign_audit_checkpoint import SIGN_AUDIT_CHECKPOINT
from application.files.ports import FileStorage
from domain.audit.entry import AuditActor, AuditEntry, AuditRecord, Outcome
from entrypoints.config import load_settings
from entrypoints.ioc import make_container
from entrypoints.ioc.memory import InMemoryPersistenceProvider
from entrypoints.worker.jobs import run_job

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=400)


@pytest.fixture
def database() -> InMemoryDatabase:
    return InMemoryDatabase()


@pytest.fixture
async def container(database: InMemoryDatabase) -> AsyncIterator[AsyncContainer]:
    settings = load_settings(
        {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "AUDIT_SIGNING_KEY": "k" * 40},
        env_file=None,
    )
    container = make_container(settings, InMemoryPersistenceProvider(database))
    yield container
    await container.close()


@pytest.fixture
def lines() -> Iterator[list[tuple[str, str]]]:
    """What the job logs through loguru: (level, message)."""
    found: list[tuple[str, str]] = []
    sink = logger.add(
        lambda message: found.append((message.record["level"].name, message.record["message"])),
        level="INFO",
    )
    yield found
    logger.remove(sink)


async def write(database: InMemoryDatabase, *moments: datetime) -> list[AuditEntry]:
    uow = InMemoryUnitOfWork(database, SequentialIdGenerator())
    for moment in moments:
        await uow.record_refusal(
            AuditRecord(
                occurred_at=moment,
                actor=AuditActor.user("u-ada", "ada"),
                action="article.update",
                target_type="article",
                target_id="how-to",
                outcome=Outcome.DENIED,
            )
        )
    table = database.table(ENTRIES)
    return [table[seq] for seq in sorted(table)]


async def run(container: AsyncContainer, job: str) -> None:
    async with container() as request:
        await run_job(request, job, {})


async def test_the_checkpoint_job_signs_the_head_and_logs_its_hash(
    container: AsyncContainer,
    database: InMemoryDatabase,
    caplog: pytest.LogCaptureFixture,
    lines: list[tuple[str, str]],
) -> None:
    entries = await write(database, NOW, NOW, NOW)
    with caplog.at_level(logging.INFO, logger="application.audit.sign_audit_checkpoint"):
        await run(container, SIGN_AUDIT_CHECKPOINT)
    (stored,) = database.table(CHECKPOINTS).values()
    assert (stored.checkpoint.seq, stored.checkpoint.hash) == (3, entries[-1].hash)
    assert stored.kind is CheckpointKind.PERIODIC
    anchors = [r.getMessage() for r in caplog.records if "audit checkpoint" in r.getMessage()]
    assert len(anchors) == 1
    assert anchors[0].startswith(f"audit checkpoint: entry 3 has hash {entries[-1].hash.hex()} ")

    await run(container, SIGN_AUDIT_CHECKPOINT)
    assert len(database.table(CHECKPOINTS)) == 1
    assert ("INFO", "audit checkpoint: no entry since the last one; nothing signed") in lines


async def test_the_retention_job_archives_old_entries_and_says_so(
    container: AsyncContainer, database: InMemoryDatabase, lines: list[tuple[str, str]]
) -> None:
    entries = await write(database, OLD, OLD, NOW)
    await run(container, ARCHIVE_AUDIT_ENTRIES)
    key = "audit/archive/0000000000000001-0000000000000002.jsonl"
    storage = await container.get(FileStorage)
    assert await storage.stat(key) is not None
    assert list(database.table(ENTRIES).values()) == entries[2:]
    assert ("INFO", f"archived 2 audit entries through entry 2; the last batch is {key}") in lines

    await run(container, ARCHIVE_AUDIT_ENTRIES)
    assert ("INFO", "no audit entry is past its retention period") in lines


async def test_the_retention_job_logs_a_break_as_an_error_and_deletes_nothing(
    container: AsyncContainer, database: InMemoryDatabase, lines: list[tuple[str, str]]
) -> None:
    await write(database, OLD, OLD, OLD)
    table = database.table(ENTRIES)
    table[2] = replace(table[2], record=replace(table[2].record, target_id="x"))
    entries = [table[seq] for seq in sorted(table)]

    await run(container, ARCHIVE_AUDIT_ENTRIES)

    assert [table[seq] for seq in sorted(table)] == entries
    assert database.table(CHECKPOINTS) == {}
    (error,) = [message for level, message in lines if level == "ERROR"]
    assert error == (
        "audit retention stopped: entry 2: changed: its content does not match its hash; "
        "nothing from there on was archived or deleted: run 'portico audit verify' and see "
        "docs/audit.md"
    )
