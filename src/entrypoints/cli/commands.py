"""The `portico` command: serve, worker, scheduler, db, users, outbox, files, audit, config, seed.

Building this tree imports typer and the command modules only; each command loads the
application, the adapters and the database driver when it runs (entrypoints/cli/tree.py).
"""

from typing import Annotated

import typer

from entrypoints.cli.audit import audit_app
from entrypoints.cli.config import config_app
from entrypoints.cli.db import db_app
from entrypoints.cli.files import files_app
from entrypoints.cli.outbox import outbox_app
from entrypoints.cli.push import push_app
from entrypoints.cli.seed import seed
from entrypoints.cli.serve_command import serve
from entrypoints.cli.tree import PorticoGroup, PorticoTyper, set_verbose
from entrypoints.cli.users import users_app
from entrypoints.cli.worker import scheduler, worker

app = PorticoTyper(
    name="portico",
    cls=PorticoGroup,
    help="Run and operate Portico.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"show_default": True},
)


@app.callback()
def main(
    verbose: Annotated[  # noqa: FBT002 - typer declares flags as boolean defaults
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Log lifecycle steps (the embedded database) at INFO; "
            "print the traceback of an unexpected error.",
        ),
    ] = False,
) -> None:
    """Run and operate Portico."""
    set_verbose(verbose)


app.command()(serve)
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.add_typer(users_app, name="users")
app.add_typer(outbox_app, name="outbox")
app.add_typer(files_app, name="files")
app.add_typer(audit_app, name="audit")
app.add_typer(push_app, name="push")
app.command()(worker)
app.command()(scheduler)
app.command()(seed)


def run() -> None:
    """Run the command line; the console script (`entrypoints.cli:main`) checks the Python first."""
    app()
