"""`portico outbox`: the backlog of events, and replays, for operators."""

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from entrypoints.cli.exit_codes import ExitCode
from entrypoints.cli.tree import command_group, fail

if TYPE_CHECKING:
    from dishka import AsyncContainer

    from application.events.ports import OutboxStatus

outbox_app = command_group("Inspect and replay the outbox of events.")


@outbox_app.command()
def status() -> None:
    """Show the backlog, the oldest unsent event, the failures and the last error."""
    from application.events.outbox_status import GetOutboxStatus
    from entrypoints.cli.common import run_in_request_scope

    async def action(request: "AsyncContainer") -> "OutboxStatus":
        get_status: GetOutboxStatus = await request.get(GetOutboxStatus)
        return await get_status()

    report = run_in_request_scope(action)
    oldest = report.oldest_pending_at
    age = f" ({_age(datetime.now(UTC) - oldest)} ago)" if oldest else ""
    typer.echo(f"pending  {report.pending}")
    typer.echo(f"failing  {report.failing}")
    typer.echo(f"oldest   {oldest.isoformat() if oldest else '-'}{age}")
    typer.echo(f"sent     {report.sent} (kept until purged)")
    typer.echo(f"error    {report.last_error or '-'}")


@outbox_app.command()
def replay(
    since: Annotated[
        str,
        typer.Option(
            metavar="TIME", help="ISO 8601 time; events that occurred then or later go out again."
        ),
    ],
) -> None:
    """Publish again every event that occurred since a time; consumers deduplicate."""
    from application.events.replay_outbox import ReplayOutbox, ReplayOutboxCommand
    from entrypoints.cli.common import run_in_request_scope

    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        fail(
            f"--since must be an ISO 8601 time, got {since!r}; "
            "give one such as 2025-01-31T12:00:00+00:00",
            ExitCode.CONFIGURATION,
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)

    async def action(request: "AsyncContainer") -> int:
        replay_outbox: ReplayOutbox = await request.get(ReplayOutbox)
        return await replay_outbox(ReplayOutboxCommand(since=moment))

    typer.echo(f"{run_in_request_scope(action)} events marked for publishing again")


@outbox_app.command()
def purge(
    retention_seconds: Annotated[
        int | None,
        typer.Option(
            min=0,
            metavar="SECONDS",
            help="Keep sent rows this long. [default: OUTBOX_RETENTION_SECONDS]",
        ),
    ] = None,
) -> None:
    """Delete sent rows older than the retention period; unsent rows are never purged."""
    from application.events.purge_outbox import PurgeOutbox, PurgeOutboxCommand
    from entrypoints.cli.common import run_in_request_scope
    from entrypoints.config import Settings

    async def action(request: "AsyncContainer") -> int:
        settings: Settings = await request.get(Settings)
        keep = settings.outbox.retention_seconds if retention_seconds is None else retention_seconds
        purge_outbox: PurgeOutbox = await request.get(PurgeOutbox)
        return await purge_outbox(PurgeOutboxCommand(retention=timedelta(seconds=keep)))

    typer.echo(f"{run_in_request_scope(action)} sent events purged")


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
