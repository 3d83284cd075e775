"""`portico audit`: what each command prints and exits with, on the in-memory twins.

The command tree runs in-process (typer's CliRunner) on the application's container with
the in-memory database and storage; tests/integration/test_audit_chain.py runs the real
executable on PostgreSQL, with tampering done in SQL.
"""

import asyncio
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dishka import Provider, Scope, provide
from typer.testing import Result

from adapters.memory.audit import CHECKPOINTS, ENTRIES
from adapters.memory.database import InMemoryDatabase
from adapters.memory.file_storage import InMemoryFileStorage
from adapters.memory.system import SequentialIdGenerator
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from application.audit.views import entry_document
from application.files.ports import FileStorage
from domain.audit.entry import AuditActor, AuditEntry, AuditRecord, Outcome
from entrypoints import ioc
from entrypoints.cli import audit as audit_cli
from entrypoints.ioc.memory import InMemoryPersistenceProvider
from tests.unit.test_cli_errors import (
    ERROR_LINE,
    REACHABLE_DB,
    database_answers,
    invoke,
    nothing_configured,  # noqa: F401 - the autouse fixture these run under
)

ENV = {**REACHABLE_DB, "AUDIT_SIGNING_KEY": "k" * 40, "LOG_LEVEL": "WARNING"}
NOW = datetime.now(UTC)
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
BROKEN_HINT = "compare it with the archives, the logged checkpoints and the backups"


class SharedStorage(Provider):
    """The world's storage in place of the in-memory one each container would make."""

    def __init__(self, storage: FileStorage) -> None:
        super().__init__()
        self._storage = storage

    @provide(scope=Scope.APP, override=True)
    def file_storage(self) -> FileStorage:
        return self._storage


@dataclass
class World:
    database: InMemoryDatabase
    storage: InMemoryFileStorage

    def write(self, *moments: datetime) -> list[AuditEntry]:
        """One entry at each moment; every entry so far."""

        async def write() -> None:
            uow = InMemoryUnitOfWork(self.database, SequentialIdGenerator())
            for index, moment in enumerate(moments):
                await uow.record_refusal(
                    AuditRecord(
                        occurred_at=moment,
                        actor=AuditActor.user("u-ada", "ada"),
                        action="article.update",
                        target_type="article",
                        target_id=f"a{index}",
                        outcome=Outcome.DENIED,
                        reason="not_article_author",
                    )
                )

        asyncio.run(write())
        return self.entries()

    def entries(self) -> list[AuditEntry]:
        table = self.database.table(ENTRIES)
        return [table[seq] for seq in sorted(table)]

    def edit(self, seq: int, target_id: str) -> None:
        """Change an entry's content behind the chain's back."""
        table = self.database.table(ENTRIES)
        entry = table[seq]
        table[seq] = replace(entry, record=replace(entry.record, target_id=target_id))

    def archived(self, key: str) -> list[dict[str, object]]:
        async def read() -> bytes:
            return b"".join([chunk async for chunk in self.storage.read(key)])

        return [json.loads(line) for line in asyncio.run(read()).decode().splitlines()]

    def keys(self) -> list[str]:
        async def keys() -> list[str]:
            return [found.key async for found in self.storage.objects()]

        return asyncio.run(keys())


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    world = World(InMemoryDatabase(), InMemoryFileStorage())
    database_answers(monkeypatch)
    build = ioc.make_container
    monkeypatch.setattr(
        ioc,
        "make_container",
        lambda settings: build(
            settings, InMemoryPersistenceProvider(world.database), SharedStorage(world.storage)
        ),
    )
    return world


def audit(*args: str, env: dict[str, str] | None = None) -> Result:
    return invoke("audit", *args, env=env or ENV)


def lines_of(entries: list[AuditEntry]) -> list[dict[str, object]]:
    return [entry_document(entry) for entry in entries]


def one_error_line(result: Result) -> str:
    (line,) = result.stderr.splitlines()
    assert ERROR_LINE.fullmatch(line), line
    return line


def test_verify_reports_an_intact_chain(world: World) -> None:
    world.write(NOW, NOW, NOW)
    result = audit("verify")
    assert result.exit_code == 0, result.output
    assert result.stdout == "checked 3 entries, 1 to 3, and 0 checkpoints: intact\n"
    assert result.stderr == ""


def test_verify_of_an_empty_log_passes(world: World) -> None:
    result = audit("verify")
    assert result.exit_code == 0, result.output
    assert result.stdout == "checked 0 entries and 0 checkpoints: intact\n"


def test_verify_names_the_first_break_and_exits_1(world: World) -> None:
    world.write(NOW, NOW, NOW, NOW)
    world.edit(2, "x")
    result = audit("verify")
    assert result.exit_code == 1
    assert result.stdout == (
        "checked 1 entry, 1 to 1, and 0 checkpoints: broken\n"
        "entry 2: changed: its content does not match its hash\n"
    )
    assert one_error_line(result) == (
        f"portico: the audit chain does not hold from entry 2; {BROKEN_HINT}, and find who "
        "could write to the database (docs/audit.md)"
    )


def test_tail_prints_the_newest_entries_oldest_first(world: World) -> None:
    entries = world.write(NOW, NOW, NOW)
    two = audit("tail", "-n", "2")
    assert two.exit_code == 0, two.output
    assert [json.loads(line) for line in two.stdout.splitlines()] == lines_of(entries[1:])
    assert audit("tail").stdout.count("\n") == 3
    assert audit("tail", "--lines", "0").stdout == ""


@pytest.mark.parametrize(
    "args",
    [["-n", "-1"], ["-n", "10001"], ["--interval", "0"], ["--lines", "many"]],
    ids=["negative", "too many", "no interval", "not a number"],
)
def test_tail_refuses_bad_numbers(world: World, args: list[str]) -> None:
    result = audit("tail", *args)
    assert result.exit_code == 2
    assert one_error_line(result).endswith("; see 'portico audit tail --help'")


def test_export_writes_the_range_in_chain_order_to_a_file(world: World, tmp_path: Path) -> None:
    entries = world.write(*(T0 + timedelta(minutes=minute) for minute in range(10)))
    target = tmp_path / "out.jsonl"
    result = audit(
        "export",
        *("--since", "2026-01-05T09:02:00Z", "--until", "2026-01-05T10:05:00+01:00"),
        *("--output", str(target)),
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == f"exported 3 entries (entries 3 to 5) to {target}\n"
    assert [json.loads(line) for line in target.read_text().splitlines()] == lines_of(entries[2:5])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.jsonl"]


def test_export_of_an_empty_range_writes_nothing(world: World, tmp_path: Path) -> None:
    world.write(T0)
    span = ["--since", "2025-01-01T00:00:00Z", "--until", "2025-02-01T00:00:00Z"]
    assert audit("export", *span).stdout == ""
    written = audit("export", *span, "-o", str(tmp_path / "none.jsonl"))
    assert (
        written.stdout == f"exported 0 entries (nothing in that range) to {tmp_path}/none.jsonl\n"
    )
    assert (tmp_path / "none.jsonl").read_text() == ""


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (["--since", "yesterday"], "--since must be an ISO 8601 time, got 'yesterday'; "),
        (["--since", "2026-01-05T09:00:00"], "--since '2026-01-05T09:00:00' has no time zone; "),
        (["--until", "2026-01-04T00:00:00Z"], "--until (2026-01-04T00:00:00+00:00) is not later "),
        (["--until", "2026-01-05T09:00:00+00:00"], "--until (2026-01-05T09:00:00+00:00) is not "),
        (["-o", "/nonexistent/dir/out.jsonl"], "cannot write /nonexistent/dir/out.jsonl: "),
        (["-o", "/"], "/ is a directory; "),
    ],
    ids=["not a time", "naive", "reversed", "empty", "unwritable", "a directory"],
)
def test_export_refuses_a_bad_range_or_file_with_exit_2(
    world: World, args: list[str], what: str
) -> None:
    options = {"--since": "2026-01-05T09:00:00Z", "--until": "2026-02-05T09:00:00Z"}
    extra: list[str] = []
    for option, value in zip(args[::2], args[1::2], strict=True):
        if option in options:
            options[option] = value
        else:
            extra += [option, value]
    result = audit("export", *[word for pair in options.items() for word in pair], *extra)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert one_error_line(result).startswith(f"portico: {what}")


def test_an_export_that_fails_leaves_no_file_behind(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.write(T0, T0)
    target = tmp_path / "out.jsonl"
    target.write_text("the previous export\n")
    written: list[AuditEntry] = []

    def fail_on_the_second(entry: AuditEntry) -> str:
        if written:
            raise OSError(28, "No space left on device")
        written.append(entry)
        return "{}"

    monkeypatch.setattr(audit_cli, "entry_line", fail_on_the_second)
    span = ["--since", "2026-01-05T00:00:00Z", "--until", "2026-01-06T00:00:00Z"]
    result = audit("export", *span, "--output", str(target))
    assert result.exit_code == 1
    assert one_error_line(result) == (
        f"portico: cannot write {target}: No space left on device; free space there or give "
        "another path, then run the command again"
    )
    assert len(written) == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.jsonl"]
    assert target.read_text() == "the previous export\n"


def test_checkpoint_signs_the_head_once(world: World) -> None:
    entries = world.write(NOW, NOW)
    signed = audit("checkpoint")
    assert signed.exit_code == 0, signed.output
    assert signed.stdout.startswith(
        f"signed checkpoint: entry 2 has hash {entries[-1].hash.hex()} (signed "
    )
    again = audit("checkpoint")
    assert again.stdout == "nothing to sign: no entry was sealed since the last checkpoint\n"
    assert len(world.database.table(CHECKPOINTS)) == 1
    assert audit("verify").stdout == "checked 2 entries, 1 to 2, and 1 checkpoint: intact\n"


def test_without_a_signing_key_the_cli_signs_with_the_servers_development_key(
    world: World,
) -> None:
    """Outside production the key derives from JWT_SECRET, kept in DATA_DIR as the server does."""
    world.write(NOW)
    assert audit("checkpoint", env=REACHABLE_DB).exit_code == 0
    result = audit("verify", env=REACHABLE_DB)
    assert result.exit_code == 0, result.output
    assert result.stdout == "checked 1 entry, 1 to 1, and 1 checkpoint: intact\n"
    forged = audit("verify", env={**REACHABLE_DB, "JWT_SECRET": "another-secret" * 3})
    assert forged.exit_code == 1
    assert "entry 1: checkpoint: the periodic checkpoint here is not signed with this key" in (
        forged.stdout
    )


def test_archive_moves_old_entries_to_storage(world: World) -> None:
    old = NOW - timedelta(days=400)
    entries = world.write(old, old, NOW)
    result = audit("archive")
    assert result.exit_code == 0, result.output
    key = "audit/archive/0000000000000001-0000000000000002.jsonl"
    assert result.stdout == f"archived 2 entries through entry 2 (the last batch to {key})\n"
    assert world.keys() == [key]
    assert world.archived(key) == lines_of(entries[:2])
    assert world.entries() == entries[2:]
    assert audit("archive").stdout == (
        "nothing to archive: no entry is older than AUDIT_RETENTION_DAYS\n"
    )
    assert audit("verify").stdout == "checked 1 entry, 3 to 3, and 1 checkpoint: intact\n"


def test_verify_says_where_the_archived_entries_end(world: World) -> None:
    old = NOW - timedelta(days=400)
    world.write(old, old)
    assert audit("archive").exit_code == 0
    assert audit("verify").stdout == (
        "checked 0 entries (none after entry 2, where the archived ones end) "
        "and 1 checkpoint: intact\n"
    )


def test_archive_stops_at_a_break_and_deletes_nothing(world: World) -> None:
    old = NOW - timedelta(days=400)
    world.write(old, old, old)
    world.edit(2, "x")
    entries = world.entries()
    result = audit("archive")
    assert result.exit_code == 1
    assert result.stdout == "entry 2: changed: its content does not match its hash\n"
    assert one_error_line(result).startswith(
        "portico: retention stopped at entry 2: nothing from there on was archived or deleted; "
        "run 'portico audit verify', then "
    )
    assert world.entries() == entries
    assert world.keys() == []
    assert world.database.table(CHECKPOINTS) == {}
