"""An audited use case of the tests' own, and the audit chain's tables reset and rewritten.

`TurnDial` writes an entry through each path a unit of work offers (`WritePath`). Run as
``python -m tests.support.audit_chain URL PROCESS COUNT START_FILE``, this module is one of
the processes of tests/integration/test_audit_chain.py that write to one chain at once,
each sealing now and then as the servers' and workers' sealers do.
"""

import asyncio
import contextlib
import sys
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.memory.system import SequentialIdGenerator
from adapters.sqlalchemy.audit import SqlAlchemyAuditMaintenance
from adapters.sqlalchemy.tables import audit_chain_head
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from adapters.system.clock import SystemClock
from application.audit.capture import audited
from application.audit.context import acting_as
from application.audit.seal_audit_entries import SealAuditEntries
from application.common.errors import PermissionDeniedError
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from domain.audit.chain import GENESIS, canonical_content, link
from domain.audit.entry import ActorKind, AuditActor, AuditEntry
from domain.shared.aggregate import AggregateRoot
from tests.support.postgres import engine_for_tests

DIAL_ACTION = "dial.turn"
SEAL_EVERY = 10
"""How many entries a concurrent writer writes between two runs of its sealer."""


class Dial(AggregateRoot):
    """Something with a position, noting each change of it."""

    __slots__ = ("dial_id", "position")

    def __init__(self, dial_id: str, position: int = 0) -> None:
        super().__init__()
        self.dial_id = dial_id
        self.position = position

    def turn(self, to: int) -> None:
        self.note_change("position", self.position, to)
        self.position = to


class DialLockedError(PermissionDeniedError):
    """The dial may not be turned: a denial, recorded as ``dial_locked``."""

    def __init__(self) -> None:
        super().__init__("the dial is locked")


class WritePath(StrEnum):
    """How `TurnDial` ends, and so how its entry is written."""

    COMMIT = "commit"
    """Committed: the entry is written in the same transaction."""
    COMMIT_REFUSING = "commit_refusing"
    """Committed, then refused (`commit(refusing=...)`): the same transaction, denied."""
    REFUSAL = "refusal"
    """Refused before any change: the entry is written in a transaction of its own."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnDialCommand:
    dial: str
    to: int
    path: WritePath = WritePath.COMMIT


@audited(DIAL_ACTION, target="dial", target_id=lambda command: command.dial)
class TurnDial:
    """Turn a dial; `path` says whether it commits, commits then refuses, or refuses."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, command: TurnDialCommand) -> None:
        if command.path is WritePath.REFUSAL:
            raise DialLockedError
        async with self._uow:
            dial = Dial(command.dial)
            dial.turn(command.to)
            self._uow.track(dial)
            if command.path is WritePath.COMMIT_REFUSING:
                error = DialLockedError()
                await self._uow.commit(refusing=error)
                raise error
            await self._uow.commit()


async def turn(use_case: TurnDial, command: TurnDialCommand) -> None:
    """Run `use_case`; its refusals are expected."""
    with contextlib.suppress(DialLockedError):
        await use_case(command)


async def seal_once(connection: AsyncConnection) -> int:
    """Run the sealer once on `connection`, as the worker's loop does; how many it sealed."""
    uow = SqlAlchemyUnitOfWork(connection, SequentialIdGenerator())
    return await SealAuditEntries(uow, SqlAlchemyAuditMaintenance(connection))()


async def seal_everything(engine: AsyncEngine) -> None:
    """Seal every entry written so far; no other sealer may be at work."""
    async with engine.connect() as connection:
        while await seal_once(connection):
            pass


async def reset_audit_log(engine: AsyncEngine) -> None:
    """Empty the audit tables and put the chain's head back at genesis, as migrated."""
    async with engine.begin() as connection:
        await connection.execute(
            sa.text("TRUNCATE audit_entries, audit_checkpoints, audit_chain_head")
        )
        await connection.execute(
            sa.insert(audit_chain_head).values(id=1, seq=0, previous_hash=GENESIS, hash=GENESIS)
        )


def relinked(entries: list[AuditEntry], previous: bytes) -> list[AuditEntry]:
    """The entries with every hash recomputed after `previous`: a consistent rewrite."""
    rewritten: list[AuditEntry] = []
    for entry in entries:
        entry_hash = link(canonical_content(entry.record), entry.seq, previous)
        rewritten.append(
            AuditEntry(seq=entry.seq, record=entry.record, previous_hash=previous, hash=entry_hash)
        )
        previous = entry_hash
    return rewritten


def ready_file(start: Path, process: int) -> Path:
    """What writer `process` creates once it is connected and waits for `start`."""
    return start.with_name(f"{start.name}.{process}.ready")


async def write_concurrently(url: str, process: int, count: int, start: Path) -> None:
    """Write `count` entries through every path, once `start` exists, as one process."""
    engine = engine_for_tests(url)
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))
            await connection.commit()
            await asyncio.to_thread(ready_file(start, process).touch)
            while not await asyncio.to_thread(start.exists):  # noqa: ASYNC110 - a file starts it
                await asyncio.sleep(0.005)
            await _write(connection, process, count)
    finally:
        await engine.dispose()


async def _write(connection: AsyncConnection, process: int, count: int) -> None:
    """Write, and every `SEAL_EVERY` entries seal, as a server with its sealer beside it."""
    clock = SystemClock()
    use_case = TurnDial(SqlAlchemyUnitOfWork(connection, SequentialIdGenerator(), clock), clock)
    paths = list(WritePath)
    with acting_as(AuditActor.process_of(ActorKind.WORKER, f"writer-{process}")):
        for index in range(count):
            command = TurnDialCommand(
                dial=f"{process}-{index}", to=index, path=paths[index % len(paths)]
            )
            await turn(use_case, command)
            if index % SEAL_EVERY == SEAL_EVERY - 1:
                await seal_once(connection)


if __name__ == "__main__":
    url, process, count, start = sys.argv[1:5]
    began = time.monotonic()
    asyncio.run(write_concurrently(url, int(process), int(count), Path(start)))
    print(f"{time.monotonic() - began:.2f}")  # noqa: T201 - read by the test
