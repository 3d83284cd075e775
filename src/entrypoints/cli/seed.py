"""`portico seed`: fill the database with realistic demo content, for demos and load tests."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from dishka import AsyncContainer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from application.common.errors import ApplicationError
from application.demo.seed_content import (
    DEMO_EMAIL_DOMAIN,
    SeedDemoContent,
    SeedDemoContentCommand,
    SeedReport,
)
from domain.shared.errors import DomainError
from entrypoints.cli.common import fail, run_in_request_scope
from entrypoints.cli.exit_codes import ExitCode

DEMO_PASSWORD = "password123"  # noqa: S105 - the documented password of demo accounts


def seed(
    users: Annotated[int, typer.Option(help="How many demo users (1 to 100000).")] = 10,
    articles: Annotated[int, typer.Option(help="How many articles (0 to 100000).")] = 50,
    comments: Annotated[
        int, typer.Option(help="How many comments in all, spread over the articles.")
    ] = 200,
    random_seed: Annotated[
        int, typer.Option("--seed", help="The same seed makes the same content.")
    ] = 1,
    password: Annotated[
        str,
        typer.Option(
            help=f"The password every demo user signs in with, as <username>@{DEMO_EMAIL_DOMAIN}."
        ),
    ] = DEMO_PASSWORD,
) -> None:
    """Create demo users, follows, articles, tags, favorites and comments; reruns add nothing."""
    try:
        command = SeedDemoContentCommand(
            users=users,
            articles=articles,
            comments=comments,
            seed=random_seed,
            password=password,
        )
    except (ApplicationError, DomainError) as exc:
        fail(f"--{exc.field} {exc}", ExitCode.CONFIGURATION)
    started = time.monotonic()
    report = _seed(command)
    typer.echo(f"{_summary(report)} in {time.monotonic() - started:.1f}s")


def _seed(command: SeedDemoContentCommand) -> SeedReport:
    """Run the use case with a progress bar; errors become one line."""

    async def action(request: AsyncContainer) -> SeedReport:
        seed_content: SeedDemoContent = await request.get(SeedDemoContent)
        with _progress_bar(command.total_items) as advance:
            return await seed_content(command, advance)

    return run_in_request_scope(action)


@contextmanager
def _progress_bar(total: int) -> Iterator[Callable[[int], None]]:
    """A bar on stderr when it is a terminal, so stdout keeps only the summary; else silent."""
    console = Console(stderr=True)
    with Progress(
        TextColumn("seeding"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("seed", total=total)
        yield lambda handled: progress.advance(task, handled)


def _summary(report: SeedReport) -> str:
    """One line: what was created, and what was already there."""
    return (
        f"created {report.users_created} users, {report.articles_created} articles, "
        f"{report.comments_created} comments, {report.follows_created} follows and "
        f"{report.favorites_created} favorites; already there: {report.users_skipped} users, "
        f"{report.articles_skipped} articles, {report.comments_skipped} comments, "
        f"{report.follows_skipped} follows, {report.favorites_skipped} favorites"
    )
