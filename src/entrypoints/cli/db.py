"""`portico db`: Alembic migrations against the configured (or embedded) database."""

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from entrypoints.cli.tree import command_group

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "adapters" / "sqlalchemy" / "migrations"
VERSION_TABLE = "alembic_version"
_RELATIVE_DOWN = re.compile(r"^-\d+$")

db_app = command_group("Apply, revert and create database migrations.")


def alembic_config(database_url: str) -> "Config":
    """An Alembic configuration for this project, pointed at `database_url`.

    The URL travels in `attributes`, not in the ini options, so a password with ``%`` in
    it survives and never lands in a file.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("version_table", VERSION_TABLE)
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    hooks = "post_write_hooks"
    config.set_section_option(hooks, "hooks", "ruff_fix,ruff_format")
    for hook, options in (
        ("ruff_fix", "check --fix --quiet REVISION_SCRIPT_FILENAME"),
        ("ruff_format", "format --quiet REVISION_SCRIPT_FILENAME"),
    ):
        config.set_section_option(hooks, f"{hook}.type", "module")
        config.set_section_option(hooks, f"{hook}.module", "ruff")
        config.set_section_option(hooks, f"{hook}.options", options)
    config.attributes["database_url"] = database_url
    return config


def schema_behind(database_url: str) -> str | None:
    """What the schema at `database_url` lacks of the migrations this code needs; else None.

    A schema ahead of this code (a newer release migrated it) is not refused: a rolling
    deploy runs the old and the new release on one schema for a while.
    """
    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(logging.WARNING)  # its INFO lines narrate migrations; none run here
    try:
        return _schema_behind(database_url)
    finally:
        alembic_log.setLevel(level)


def _schema_behind(database_url: str) -> str | None:
    import sqlalchemy as sa
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from adapters.sqlalchemy.engine import to_psycopg_url

    script = ScriptDirectory.from_config(alembic_config(database_url))
    head = script.get_current_head()
    engine = sa.create_engine(to_psycopg_url(database_url), poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
            current = context.get_current_revision()
    finally:
        engine.dispose()
    known = {revision.revision for revision in script.walk_revisions()}
    if current == head or (current is not None and current not in known):
        return None
    return f"the database schema is at {current or 'no migration'}, this code needs {head}"


def _run(action: str, revision: str | None = None, **options: object) -> None:
    from alembic import command
    from alembic.util.exc import CommandError

    from adapters.sqlalchemy.errors import DATABASE_ERRORS
    from entrypoints.cli.common import (
        database_or_exit,
        database_reachable_or_exit,
        fail,
        settings_or_exit,
        stop_on_signals,
    )
    from entrypoints.cli.exit_codes import ExitCode

    stop_on_signals()
    settings = settings_or_exit()
    with database_or_exit(settings) as resolved:
        url = resolved.database.url
        assert url is not None  # noqa: S101 - resolved_database guarantees it
        database_reachable_or_exit(resolved)
        config = alembic_config(url)
        try:
            match action:
                case "upgrade":
                    command.upgrade(config, revision or "head")
                case "downgrade":
                    command.downgrade(config, revision or "-1")
                    if revision == "base":
                        _drop_version_table(url)
                case "current":
                    command.current(config, verbose=bool(options.get("verbose")))
                case "history":
                    command.history(config, indicate_current=True)
                case "revision":
                    command.revision(
                        config,
                        message=str(options["message"]),
                        autogenerate=bool(options.get("autogenerate")),
                    )
        except CommandError as exc:
            fail(migration_error_line(exc), ExitCode.FAILURE)
        except DATABASE_ERRORS as exc:
            fail(failed_migration_line(exc), ExitCode.FAILURE)


def migration_error_line(exc: Exception) -> str:
    """Alembic's refusal (an unknown revision, a database behind its head), and what to do."""
    what = f"migration error: {str(exc).rstrip('.')}"
    if "not up to date" in what:
        return f"{what}; run 'portico db upgrade' first"
    return f"{what}; check the revision against 'portico db history'"


def failed_migration_line(exc: Exception) -> str:
    """A migration the database refused: each runs in its own transaction, so it left nothing."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    detail = reason[0] if reason else type(exc).__name__
    return (
        f"migration failed: {detail}; fix the cause and run it again (the failing migration "
        "was rolled back, and 'portico db current' shows where the schema stands)"
    )


def _drop_version_table(url: str) -> None:
    """At base nothing is applied, so the bookkeeping table goes too: the schema is empty."""
    import sqlalchemy as sa

    from adapters.sqlalchemy.engine import to_psycopg_url

    engine = sa.create_engine(to_psycopg_url(url))
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP TABLE IF EXISTS "{VERSION_TABLE}"'))
    finally:
        engine.dispose()


@db_app.command()
def upgrade(
    revision: Annotated[str, typer.Argument(metavar="REVISION", help="Target revision.")] = "head",
) -> None:
    """Apply migrations up to REVISION (default: head)."""
    _run("upgrade", revision)


@db_app.command(context_settings={"ignore_unknown_options": True})
def downgrade(
    revision: Annotated[
        str,
        typer.Argument(metavar="REVISION", help="Target revision, -N (N steps back), or base."),
    ] = "-1",
) -> None:
    """Revert migrations down to REVISION; `base` leaves an empty schema.

    A relative revision needs no `--`: `portico db downgrade -2` reverts two migrations.
    """
    if revision.startswith("-") and not _RELATIVE_DOWN.match(revision):
        raise typer.BadParameter(
            f"{revision!r} is neither a revision nor -N; give a revision, -N or base",
            param_hint="'REVISION'",
        )
    _run("downgrade", revision)


@db_app.command()
def current(
    verbose: Annotated[  # noqa: FBT002 - typer declares flags as boolean defaults
        bool, typer.Option("--verbose", "-v", help="Show details.")
    ] = False,
) -> None:
    """Show the revision the database is at."""
    _run("current", verbose=verbose)


@db_app.command()
def history() -> None:
    """List every migration, marking the current one."""
    _run("history")


@db_app.command()
def revision(
    message: Annotated[
        str, typer.Option("--message", "-m", metavar="MESSAGE", help="What the migration does.")
    ],
    autogenerate: Annotated[  # noqa: FBT002 - typer declares flags as boolean defaults
        bool, typer.Option("--autogenerate/--empty", help="Diff the tables against the database.")
    ] = True,
) -> None:
    """Create a migration; by default, autogenerated from adapters/sqlalchemy/tables.py."""
    _run("revision", message=message, autogenerate=autogenerate)
