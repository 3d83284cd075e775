"""`portico audit`: prove the audit chain, read the log, sign and archive it, for operators.

Entries are printed as JSON lines in the shape the API and the archives use
(`application.audit.views.entry_document`); progress goes to stderr, and only when it is
a terminal, so stdout stays clean for a pipe.
"""

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Self, TextIO

import typer

from entrypoints.cli.exit_codes import ExitCode
from entrypoints.cli.tree import command_group, fail

if TYPE_CHECKING:
    from dishka import AsyncContainer

    from application.audit.archive_audit_entries import ArchiveReport
    from application.audit.verify_audit_chain import ChainReport
    from domain.audit.chain import ChainBreak, Checkpoint
    from domain.audit.entry import AuditEntry

audit_app = command_group("Verify, read, checkpoint and archive the audit log.")

TAIL_MAX_LINES = 10_000
"""The most entries `tail -n` prints at once: one query, held in memory."""
READ_BATCH = 1_000
"""How many entries `tail --follow` and `export` read per query."""
_BROKEN_HINT = (
    "compare it with the archives, the logged checkpoints and the backups, and find who "
    "could write to the database (docs/audit.md)"
)


@audit_app.command()
def verify() -> None:
    """Prove the chain holds; exit 1 at the first break.

    It walks every entry from the first (or from the retention checkpoint, once older
    entries were archived) and checks every signed checkpoint and the head. A break is
    printed as `entry <seq>: <kind>: <detail>`, kind being changed, relinked, missing or
    checkpoint. Entries written but not chained yet are sealed first, so the walk covers
    everything committed until it starts.
    """
    from application.audit.read_audit_feed import ReadAuditFeed
    from application.audit.seal_audit_entries import BATCH, SealAuditEntries
    from application.audit.verify_audit_chain import VerifyAuditChain
    from entrypoints.cli.common import run_in_request_scope

    async def action(request: "AsyncContainer") -> "ChainReport":
        seal: SealAuditEntries = await request.get(SealAuditEntries)
        while await seal() == BATCH:
            pass
        feed: ReadAuditFeed = await request.get(ReadAuditFeed)
        newest, oldest = await feed.latest(1), await feed.after(0, limit=1)
        total = newest[-1].seq - oldest[0].seq + 1 if newest and oldest else 0
        verify_chain: VerifyAuditChain = await request.get(VerifyAuditChain)
        with _progress("verifying", total) as advance:
            return await verify_chain(advance)

    report = run_in_request_scope(action, signing=True)
    typer.echo(_verified_line(report))
    if report.broken is not None:
        typer.echo(break_line(report.broken))
        fail(
            f"the audit chain does not hold from entry {report.broken.seq}; {_BROKEN_HINT}",
            ExitCode.FAILURE,
        )


@audit_app.command()
def tail(
    lines: Annotated[
        int,
        typer.Option(
            "--lines", "-n", min=0, max=TAIL_MAX_LINES, metavar="N", help="How many to print."
        ),
    ] = 10,
    follow: Annotated[  # noqa: FBT002 - typer declares flags as boolean defaults
        bool,
        typer.Option("--follow", "-f", help="Keep printing new entries until interrupted."),
    ] = False,
    interval: Annotated[
        float | None,
        typer.Option(
            min=0.1,
            metavar="SECONDS",
            help="How often --follow looks for new entries. [default: AUDIT_STREAM_POLL_SECONDS]",
        ),
    ] = None,
) -> None:
    """Print the newest entries as JSON lines.

    They come oldest first; --follow then prints each new entry as it is sealed, until
    Ctrl-C (or SIGTERM), which exits 0.
    """
    import asyncio

    from application.audit.read_audit_feed import ReadAuditFeed
    from entrypoints.cli.common import run_in_request_scope
    from entrypoints.config import Settings

    async def action(request: "AsyncContainer") -> None:
        feed: ReadAuditFeed = await request.get(ReadAuditFeed)
        shown = await feed.latest(lines) if lines else []
        for entry in shown:
            typer.echo(entry_line(entry))
        if not follow:
            return
        settings: Settings = await request.get(Settings)
        wait = settings.audit.stream_poll_seconds if interval is None else interval
        last = shown[-1].seq if shown else next((e.seq for e in await feed.latest(1)), 0)
        while True:
            batch = await feed.after(last, limit=READ_BATCH)
            for entry in batch:
                typer.echo(entry_line(entry))
            last = batch[-1].seq if batch else last
            if len(batch) < READ_BATCH:
                await asyncio.sleep(wait)

    run_in_request_scope(action)


@audit_app.command()
def export(
    since: Annotated[
        str,
        typer.Option(
            metavar="TIME", help="ISO 8601 time with a zone; entries from then on (inclusive)."
        ),
    ],
    until: Annotated[
        str,
        typer.Option(metavar="TIME", help="ISO 8601 time with a zone; entries before then."),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write to this file (replaced only once the export is whole). "
            "[default: standard output]",
        ),
    ] = None,
) -> None:
    """Write a time range's entries as JSON lines.

    In chain order, --since inclusive and --until exclusive, with a progress bar on stderr.
    """
    from application.audit.read_audit_feed import ReadAuditFeed
    from entrypoints.cli.common import run_in_request_scope

    start, end = _moment("--since", since), _moment("--until", until)
    if end <= start:
        fail(
            f"--until ({end.isoformat()}) is not later than --since ({start.isoformat()}); "
            "give a range that ends after it starts",
            ExitCode.CONFIGURATION,
        )
    target = _ExportFile.opened(output) if output is not None else None

    async def action(request: "AsyncContainer") -> tuple[int, int | None, int | None]:
        feed: ReadAuditFeed = await request.get(ReadAuditFeed)
        write = typer.echo if target is None else target.write
        count, first, last = 0, None, 0
        span = max((min(end, datetime.now(UTC)) - start).total_seconds(), 1.0)
        with _progress("exporting", span) as reached:
            while batch := await feed.after(last, limit=READ_BATCH, since=start, until=end):
                for entry in batch:
                    write(entry_line(entry))
                count += len(batch)
                first = batch[0].seq if first is None else first
                last = batch[-1].seq
                reached(int((batch[-1].record.occurred_at - start).total_seconds()))
        return count, first, last or None

    if target is None:
        run_in_request_scope(action)
        return
    try:
        with target:
            count, first, last = run_in_request_scope(action)
    except OSError as exc:
        fail(
            f"cannot write {target.path}: {exc.strerror or exc}; free space there or give "
            "another path, then run the command again",
            ExitCode.FAILURE,
        )
    span = f"entries {first} to {last}" if count else "nothing in that range"
    typer.echo(f"exported {count} entries ({span}) to {target.path}")


@audit_app.command()
def checkpoint() -> None:
    """Sign the chain's head now, and log it.

    The checkpoint is kept and logged as the scheduler's does every
    AUDIT_CHECKPOINT_INTERVAL_SECONDS. Nothing is signed when no entry was sealed since the
    last checkpoint.
    """
    from application.audit.sign_audit_checkpoint import SignAuditCheckpoint
    from entrypoints.cli.common import run_in_request_scope

    async def action(request: "AsyncContainer") -> "Checkpoint | None":
        sign: SignAuditCheckpoint = await request.get(SignAuditCheckpoint)
        return await sign()

    signed = run_in_request_scope(action, signing=True)
    if signed is None:
        typer.echo("nothing to sign: no entry was sealed since the last checkpoint")
        return
    typer.echo(
        f"signed checkpoint: entry {signed.seq} has hash {signed.hash.hex()} "
        f"(signed {signed.signed_at.isoformat()}, signature {signed.signature})"
    )


@audit_app.command()
def archive() -> None:
    """Archive and delete entries past retention.

    Entries older than AUDIT_RETENTION_DAYS go to file storage as JSON lines, then out of
    the database: the retention the scheduler runs every SCHEDULER_PURGE_INTERVAL_SECONDS.
    A batch that fails verification is neither archived nor deleted: exit 1, naming the
    entry.
    """
    from application.audit.archive_audit_entries import ArchiveAuditEntries
    from entrypoints.cli.common import run_in_request_scope

    async def action(request: "AsyncContainer") -> "ArchiveReport":
        archive_entries: ArchiveAuditEntries = await request.get(ArchiveAuditEntries)
        return await archive_entries()

    try:
        report = run_in_request_scope(action, signing=True)
    except OSError as exc:
        fail(
            f"file storage failed: {exc}; check STORAGE_BACKEND and its settings "
            "(STORAGE_LOCAL_DIR must be writable by this user), then run the command again",
            ExitCode.FAILURE,
        )
    if report.archived:
        typer.echo(
            f"archived {report.archived} entries through entry {report.through_seq} "
            f"(the last batch to {report.location})"
        )
    elif report.broken is None:
        typer.echo("nothing to archive: no entry is older than AUDIT_RETENTION_DAYS")
    if report.broken is not None:
        typer.echo(break_line(report.broken))
        fail(
            f"retention stopped at entry {report.broken.seq}: nothing from there on was "
            f"archived or deleted; run 'portico audit verify', then {_BROKEN_HINT}",
            ExitCode.FAILURE,
        )


def break_line(broken: "ChainBreak") -> str:
    """`entry <seq>: <kind>: <detail>`, the first place the chain does not hold."""
    return f"entry {broken.seq}: {broken.kind.value}: {broken.detail}"


def entry_line(entry: "AuditEntry") -> str:
    """The entry as one JSON line, hashes included."""
    from application.audit.views import entry_document

    return json.dumps(entry_document(entry), ensure_ascii=False)


def _verified_line(report: "ChainReport") -> str:
    """`checked 42 entries, 31 to 72, and 3 checkpoints: intact`."""
    entries = "1 entry" if report.checked == 1 else f"{report.checked} entries"
    if report.checked:
        span = f", {report.first_seq} to {report.last_seq},"
    elif report.first_seq > 1:
        span = f" (none after entry {report.first_seq - 1}, where the archived ones end)"
    else:
        span = ""
    checkpoints = "1 checkpoint" if report.checkpoints == 1 else f"{report.checkpoints} checkpoints"
    verdict = "intact" if report.intact else "broken"
    return f"checked {entries}{span} and {checkpoints}: {verdict}"


def _moment(option: str, text: str) -> datetime:
    """An ISO 8601 time with a zone, or exit 2 naming the option."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(
            f"{option} must be an ISO 8601 time, got {text!r}; "
            "give one such as 2026-01-31T12:00:00+00:00",
            ExitCode.CONFIGURATION,
        )
    if moment.tzinfo is None:
        fail(
            f"{option} {text!r} has no time zone; give one, such as 2026-01-31T12:00:00+00:00 "
            "or 2026-01-31T12:00:00Z",
            ExitCode.CONFIGURATION,
        )
    return moment


class _ExportFile:
    """An export's file: written beside its path, and put in place only once whole."""

    def __init__(self, path: Path, partial: Path, handle: TextIO) -> None:
        self.path = path
        self._partial = partial
        self._handle = handle

    @classmethod
    def opened(cls, path: Path) -> Self:
        """Open the partial file; exit 2 when `path` cannot be written."""
        if path.is_dir():
            fail(f"{path} is a directory; give the path of a file to write", ExitCode.CONFIGURATION)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        try:
            handle = partial.open("w", encoding="utf-8")
        except OSError as exc:
            fail(
                f"cannot write {path}: {exc.strerror or exc}; give a path in a writable directory",
                ExitCode.CONFIGURATION,
            )
        return cls(path, partial, handle)

    def write(self, line: str) -> None:
        """Add one line."""
        self._handle.write(line + "\n")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_rest: object) -> None:
        """Put the file in place when the export finished; else remove what was written."""
        self._handle.close()
        if exc_type is None:
            self._partial.replace(self.path)
        else:
            self._partial.unlink(missing_ok=True)


@contextmanager
def _progress(label: str, total: float) -> Iterator[Callable[[int], None]]:
    """A bar on stderr when it is a terminal; the callable sets how far it got."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task(label, total=total or None)
        yield lambda done: progress.update(task, completed=done)
