"""`portico seed`: fill the database with realistic demo content, for demos and load tests."""

import secrets
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from entrypoints.cli.exit_codes import ExitCode
from entrypoints.cli.tree import fail

if TYPE_CHECKING:
    from dishka import AsyncContainer

    from application.common.errors import ApplicationError
    from application.demo.seed_content import SeedDemoContentCommand, SeedReport
    from domain.shared.errors import DomainError

GENERATED_PASSWORD_BYTES = 18
"""24 URL-safe characters, 144 random bits: beyond guessing, short enough to type."""


def seed(  # noqa: PLR0917 - typer maps each parameter to an option
    users: Annotated[
        int, typer.Option(metavar="N", help="How many demo users (1 to 100000).")
    ] = 10,
    articles: Annotated[
        int, typer.Option(metavar="N", help="How many articles (0 to 100000).")
    ] = 50,
    comments: Annotated[
        int, typer.Option(metavar="N", help="How many comments in all, spread over the articles.")
    ] = 200,
    random_seed: Annotated[
        int, typer.Option("--seed", metavar="N", help="The same seed makes the same content.")
    ] = 1,
    password_stdin: Annotated[  # noqa: FBT002 - typer declares flags as boolean defaults
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the demo users' password from standard input; "
            "else a strong one is generated and printed once.",
        ),
    ] = False,
    force_production: Annotated[  # noqa: FBT002 - typer declares flags as boolean defaults
        bool,
        typer.Option("--force-production", help="Seed even though APP_ENV=production."),
    ] = False,
) -> None:
    """Create demo users, follows, articles, tags, favorites and comments; reruns add nothing.

    Refuses APP_ENV=production unless --force-production. New demo users share one
    password, never logged; users that already exist keep theirs.
    """
    from application.common.errors import ApplicationError
    from application.demo.seed_content import SeedDemoContentCommand
    from application.demo.seed_plan import DEMO_EMAIL_DOMAIN
    from domain.shared.errors import DomainError
    from entrypoints.cli.common import settings_or_exit

    if settings_or_exit().is_production and not force_production:
        fail(
            "refusing to seed demo accounts with APP_ENV=production; "
            "pass --force-production to seed anyway",
            ExitCode.CONFIGURATION,
        )
    password = _stdin_password() if password_stdin else _generated_password()
    try:
        command = SeedDemoContentCommand(
            users=users,
            articles=articles,
            comments=comments,
            seed=random_seed,
            password=password,
        )
    except (ApplicationError, DomainError) as exc:
        fail(_refused_input_line(exc), ExitCode.CONFIGURATION)
    started = time.monotonic()
    report = _seed(command)
    typer.echo(f"{_summary(report)} in {time.monotonic() - started:.1f}s")
    if report.users_created and not password_stdin:
        typer.echo(
            f"password of the {report.users_created} demo users created "
            f"(sign in as <username>@{DEMO_EMAIL_DOMAIN}), shown only this once: {password}"
        )


def _refused_input_line(exc: "ApplicationError | DomainError") -> str:
    """What is wrong with an option or the password on standard input, and what to give."""
    from domain.users.values import PASSWORD_MAX, PASSWORD_MIN

    if exc.field == "password":
        return (
            f"the password on standard input {exc}; pipe in a password of {PASSWORD_MIN} to "
            f"{PASSWORD_MAX} characters, or leave out --password-stdin to have one generated"
        )
    if exc.field == "comments" and "article" in str(exc):
        return f"--comments {exc}; pass --articles 1 or more, or --comments 0"
    return f"--{exc.field} {exc}; pass a number in that range"


def _stdin_password() -> str:
    """The first line of standard input; exits 2 with one line when there is none."""
    password = sys.stdin.readline().rstrip("\r\n") if sys.stdin is not None else ""
    if not password:
        fail(
            "no password on standard input; pipe one line holding it in, "
            "or leave out --password-stdin to have one generated",
            ExitCode.CONFIGURATION,
        )
    return password


def _generated_password() -> str:
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def _seed(command: "SeedDemoContentCommand") -> "SeedReport":
    """Run the use case with a progress bar; errors become one line."""
    from application.demo.seed_content import NoDemoAuthorError, SeedDemoContent
    from entrypoints.cli.common import run_in_request_scope

    async def action(request: "AsyncContainer") -> "SeedReport":
        seed_content: SeedDemoContent = await request.get(SeedDemoContent)
        with _progress_bar(command.total_items) as advance:
            return await seed_content(command, advance)

    return run_in_request_scope(
        action,
        hints={
            NoDemoAuthorError: "every demo username or email belongs to another account: "
            "seed an empty database, or rename those accounts"
        },
    )


@contextmanager
def _progress_bar(total: int) -> Iterator[Callable[[int], None]]:
    """A bar on stderr when it is a terminal, so stdout keeps only the summary; else silent."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

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


def _summary(report: "SeedReport") -> str:
    """One line: what was created, and what was already there."""
    return (
        f"created {report.users_created} users, {report.articles_created} articles, "
        f"{report.comments_created} comments, {report.follows_created} follows and "
        f"{report.favorites_created} favorites; already there: {report.users_skipped} users, "
        f"{report.articles_skipped} articles, {report.comments_skipped} comments, "
        f"{report.follows_skipped} follows, {report.favorites_skipped} favorites"
    )
