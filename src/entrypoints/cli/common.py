"""Helpers every command shares: settings or a one-line failure, and clean exits.

Only the standard library and typer load with this module; the settings loader, the
container and the database come in when a command calls for them (entrypoints/cli/tree.py).
"""

import signal
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from types import FrameType
from typing import TYPE_CHECKING, TypeVar

from entrypoints.cli.exit_codes import ExitCode
from entrypoints.cli.tree import fail, lifecycle_level, with_hint

if TYPE_CHECKING:
    from dishka import AsyncContainer

    from application.common.errors import ApplicationError
    from domain.audit.entry import AuditActor
    from domain.shared.errors import DomainError
    from entrypoints.config import Settings
    from entrypoints.config.errors import ConfigurationError

__all__ = [
    "StopRequestedError",
    "database_or_exit",
    "database_reachable_or_exit",
    "database_ready",
    "database_schema_current_or_exit",
    "fail",
    "run_in_request_scope",
    "settings_or_exit",
    "stop_on_signals",
    "with_signing_secret_logged",
]

T = TypeVar("T")


class StopRequestedError(SystemExit):
    """SIGINT or SIGTERM arrived before the server took over signal handling."""


def stop_on_signals() -> None:
    """Turn SIGINT and SIGTERM into a clean exit 0 until a server installs its own handlers.

    Without this, a SIGTERM during start-up would kill the process on the spot, skipping the
    `finally` blocks that stop the embedded database.
    """

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        signal.signal(signum, signal.SIG_IGN)
        raise StopRequestedError(int(ExitCode.OK))

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, request_stop)


def settings_or_exit() -> "Settings":
    """Load and validate the settings, configure logging, or exit 2 naming the variable."""
    from entrypoints.config.errors import ConfigurationError
    from entrypoints.config.loader import load_settings
    from entrypoints.logs import configure_logging

    try:
        settings = load_settings()
    except ConfigurationError as exc:
        fail(configuration_error_line(exc), ExitCode.CONFIGURATION)
    configure_logging(
        level=settings.app.log_level,
        json_format=settings.app.log_format == "json",
        secrets=_known_secrets(settings),
        sql_echo=settings.database.echo,
    )
    return settings


def configuration_error_line(exc: "ConfigurationError") -> str:
    """`configuration error: VAR: problem; <where to fix it>`.

    A setting's problem is fixed where the setting comes from. A problem with the env file
    itself (PORTICO_ENV_FILE, an unreadable `.env`) already says what to do.
    """
    from entrypoints.config.loader import setting_specs

    line = f"configuration error: {exc}"
    if exc.variable in {spec.variable for spec in setting_specs()}:
        return (
            f"{line}; set {exc.variable} in the environment or the env file "
            "(see docs/configuration.md)"
        )
    return with_hint(line, "fix the environment or the env file (see docs/configuration.md)")


def _known_secrets(settings: "Settings") -> list[str]:
    """The configured secrets, as `entrypoints.bootstrap.known_secrets` finds them.

    That function parses the database and Redis URLs with SQLAlchemy; with neither set
    there is nothing to parse, and a command such as `config check` need not load it.
    """
    if settings.database.url or settings.cache.redis_url:
        from entrypoints.bootstrap import known_secrets

        return known_secrets(settings)
    keys = (settings.auth.jwt_secret, settings.audit.signing_key, settings.metrics.token)
    return [key for key in keys if key]


def with_signing_secret_logged(settings: "Settings") -> "Settings":
    """The settings with a JWT secret resolved, and the log scrubbing it from then on."""
    from entrypoints.bootstrap import setup_logging, with_signing_secret

    resolved = with_signing_secret(settings)
    if resolved is not settings:
        setup_logging(resolved)
    return resolved


@contextmanager
def database_or_exit(settings: "Settings", *, export: bool = False) -> Iterator["Settings"]:
    """`resolved_database`, or one line and an exit when there is no database to resolve.

    Without DATABASE_URL and without the `embedded` extra the exit is 2 (configuration); an
    embedded server that does not start exits 3. Its start and stop are logged at DEBUG,
    or at INFO under `portico -v`.
    """
    from adapters.embedded_postgres.server import (
        EmbeddedPostgresError,
        EmbeddedPostgresMissingError,
    )
    from entrypoints.bootstrap import resolved_database

    stack = ExitStack()
    try:
        resolved = stack.enter_context(
            resolved_database(settings, export=export, lifecycle_level=lifecycle_level())
        )
    except EmbeddedPostgresMissingError:
        fail(
            "DATABASE_URL is not set and the embedded PostgreSQL is not installed; set "
            "DATABASE_URL=postgresql://user:password@host:5432/portico, or install "
            "'portico[embedded]' to run a local one",
            ExitCode.CONFIGURATION,
        )
    except EmbeddedPostgresError as exc:
        log = f"{settings.app.data_dir}/postgres/log"
        fail(with_hint(str(exc), f"see {log}"), ExitCode.DEPENDENCY_UNAVAILABLE)
    with stack:
        yield resolved


@contextmanager
def database_ready(settings: "Settings") -> Iterator["Settings"]:
    """The settings with a reachable database: the embedded one is started if needed.

    Exits 3 with one line when the database does not answer; stops the embedded one when
    the block ends.
    """
    with database_or_exit(settings) as resolved:
        database_reachable_or_exit(resolved)
        yield resolved


def database_reachable_or_exit(settings: "Settings") -> None:
    """Return when the database answers; else one line naming it (password hidden), exit 3."""
    from entrypoints.bootstrap import DatabaseUnreachableError, ensure_database_reachable

    try:
        ensure_database_reachable(settings)
    except DatabaseUnreachableError as exc:
        fail(
            f"{exc}; start the database, or point DATABASE_URL at one that answers",
            ExitCode.DEPENDENCY_UNAVAILABLE,
        )


def database_schema_current_or_exit(settings: "Settings") -> None:
    """Return when the schema holds every migration this code needs; else one line, exit 3.

    Serving an older schema would answer 500 on the first request that reads a new table.
    """
    from entrypoints.cli.db import schema_behind

    url = settings.database.url
    assert url is not None  # noqa: S101 - the caller resolved the database
    behind = schema_behind(url)
    if behind is not None:
        fail(f"{behind}; run 'portico db upgrade' first", ExitCode.DEPENDENCY_UNAVAILABLE)


def run_in_request_scope(
    action: "Callable[[AsyncContainer], Awaitable[T]]",
    *,
    hints: "Mapping[type[Exception], str] | None" = None,
    signing: bool = False,
) -> T:
    """Run `action` in a request scope of the usual container, on the configured database.

    The embedded database is started when DATABASE_URL is unset, and stopped afterwards.
    An unreachable database exits 3; a use case's expected error, or a database error,
    exits 1; each with one line and no traceback, ending in what to do (`hints` by error
    class for the command's own errors). `signing` resolves the key the server signs audit
    checkpoints with when AUDIT_SIGNING_KEY is unset (outside production, derived from the
    JWT secret, `with_signing_secret_logged`), for a command that signs or checks them.
    """
    import asyncio

    from adapters.sqlalchemy.errors import DATABASE_ERRORS
    from application.audit.context import acting_as
    from application.common.errors import ApplicationError
    from domain.shared.errors import DomainError
    from entrypoints.ioc import make_container

    stop_on_signals()
    settings = settings_or_exit()
    if signing and settings.audit.signing_key is None:
        settings = with_signing_secret_logged(settings)
    with database_ready(settings) as resolved:

        async def scoped() -> T:
            container = make_container(resolved)
            try:
                async with container() as request:
                    with acting_as(operator()):
                        return await action(request)
            finally:
                await container.close()

        try:
            return asyncio.run(scoped())
        except (ApplicationError, DomainError) as exc:
            fail(expected_error_line(exc, hints), ExitCode.FAILURE)
        except DATABASE_ERRORS as exc:
            fail(database_error_line(exc), ExitCode.FAILURE)


def operator() -> "AuditActor":
    """The audit actor of a CLI command: ``cli``, with the command and this process.

    The command's context is typer's: typer runs on its own copy of click, whose context
    stack the `click` package cannot see.
    """
    from typer._click.globals import get_current_context

    from application.audit.context import this_process
    from domain.audit.entry import ActorKind, AuditActor

    context = get_current_context(silent=True)
    command = context.command_path if context is not None else "portico"
    return AuditActor.process_of(ActorKind.CLI, f"{command} ({this_process()})")


def expected_error_line(
    exc: "ApplicationError | DomainError", hints: "Mapping[type[Exception], str] | None" = None
) -> str:
    """`<field> <message>; <what to do>` for a use case's expected error.

    `hints` says what to do about a command's own errors; others get their kind's hint.
    """
    from application.common.errors import (
        ConflictError,
        DependencyUnavailableError,
        NotFoundError,
    )

    if hints is not None and type(exc) in hints:
        hint = hints[type(exc)]
    elif isinstance(exc, NotFoundError):
        hint = "check the name and run the command again"
    elif isinstance(exc, ConflictError):
        hint = f"choose another {exc.field}"
    elif isinstance(exc, DependencyUnavailableError):
        hint = "run the command again once the service is back"
    else:
        hint = "correct the value and run the command again"
    return with_hint(f"{exc.field} {exc}", hint)


def database_error_line(exc: BaseException) -> str:
    """What the database said, and what to do: migrate when the schema is missing."""
    from sqlalchemy.exc import ProgrammingError

    from adapters.sqlalchemy.errors import described

    if isinstance(exc, ProgrammingError):
        return f"{described(exc)}; then run the command again"
    return f"{described(exc)}; check the database server and its log, then run the command again"
