"""`portico files`: what uploads take, and their garbage collected on demand."""

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from entrypoints.cli.exit_codes import ExitCode
from entrypoints.cli.tree import command_group, fail

if TYPE_CHECKING:
    from dishka import AsyncContainer

    from application.files.collect_file_garbage import FileGarbageReport
    from application.files.ports import FileUsage

files_app = command_group("Inspect uploaded files and collect their garbage.")

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


@files_app.command()
def stats(
    as_json: Annotated[  # noqa: FBT002 - typer declares flags as boolean defaults
        bool,
        typer.Option(
            "--json", help="Print a JSON array: one object per purpose, backend and status."
        ),
    ] = False,
) -> None:
    """Count the files and their bytes per purpose, backend and status."""
    from application.files.file_usage import FileUsageReport
    from entrypoints.cli.common import run_in_request_scope

    async def action(request: "AsyncContainer") -> "Sequence[FileUsage]":
        report: FileUsageReport = await request.get(FileUsageReport)
        return await report()

    usage = run_in_request_scope(action)
    if as_json:
        rows = [
            {
                "purpose": row.purpose.value,
                "backend": row.backend,
                "status": row.status.value,
                "count": row.count,
                "bytes": row.total_bytes,
            }
            for row in usage
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    if not usage:
        typer.echo("no files recorded")
        return
    _print_table(usage)


@files_app.command()
def gc(
    dry_run: Annotated[  # noqa: FBT002 - typer declares flags as boolean defaults
        bool,
        typer.Option("--dry-run", help="Count what a collection would remove; change nothing."),
    ] = False,
) -> None:
    """Remove expired direct uploads, deleted files' bytes and orphan objects, now.

    An orphan is an object no file record names, older than a day (or than
    FILES_PENDING_TTL_SECONDS, when longer). This is the collection `portico scheduler`
    enqueues every SCHEDULER_FILE_GARBAGE_INTERVAL_SECONDS.
    """
    from application.files.collect_file_garbage import CollectFileGarbage
    from entrypoints.cli.common import run_in_request_scope
    from entrypoints.config import Settings
    from entrypoints.worker.jobs import file_garbage_command

    async def action(request: "AsyncContainer") -> "FileGarbageReport":
        settings: Settings = await request.get(Settings)
        collect: CollectFileGarbage = await request.get(CollectFileGarbage)
        return await collect(file_garbage_command(settings, dry_run=dry_run))

    try:
        report = run_in_request_scope(action)
    except OSError as exc:
        fail(
            f"file storage failed: {exc}; check STORAGE_BACKEND and its settings "
            "(STORAGE_LOCAL_DIR must be writable by this user), then run the command again",
            ExitCode.FAILURE,
        )
    orphan_size = human_size(report.orphan_bytes)
    typer.echo(f"expired uploads  {report.expired_uploads}")
    typer.echo(f"discarded files  {report.discarded_records}")
    typer.echo(f"orphan objects   {report.orphan_objects} ({orphan_size})")
    if dry_run:
        typer.echo("dry run: nothing was removed")


def human_size(size: int) -> str:
    """`size` bytes in binary units: ``512 B``, ``1.5 KiB``, ``3.0 GiB``."""
    amount, unit = float(size), _UNITS[0]
    for larger in _UNITS[1:]:
        if amount < 1024:
            break
        amount, unit = amount / 1024, larger
    return f"{size} B" if unit == _UNITS[0] else f"{amount:.1f} {unit}"


def _print_table(usage: "Sequence[FileUsage]") -> None:
    """Names left-aligned, numbers right-aligned, and a total row."""
    header = ("purpose", "backend", "status", "count", "bytes", "size")
    rows = [
        (
            row.purpose.value,
            row.backend,
            row.status.value,
            str(row.count),
            str(row.total_bytes),
            human_size(row.total_bytes),
        )
        for row in usage
    ]
    total_bytes = sum(row.total_bytes for row in usage)
    total_count = sum(row.count for row in usage)
    total = ("total", "", "", str(total_count), str(total_bytes), human_size(total_bytes))
    table = [header, *rows, total]
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]
    aligns = ("<", "<", "<", ">", ">", ">")
    for line in table:
        cells = (
            f"{cell:{align}{width}}"
            for cell, align, width in zip(line, aligns, widths, strict=True)
        )
        typer.echo("  ".join(cells).rstrip())
