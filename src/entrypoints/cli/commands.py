"""The `portico` command: serve, worker, scheduler, db, users, outbox, config, seed."""

import typer

from entrypoints.cli.config import config_app
from entrypoints.cli.db import db_app
from entrypoints.cli.outbox import outbox_app
from entrypoints.cli.push import push_app
from entrypoints.cli.seed import seed
from entrypoints.cli.serve import serve
from entrypoints.cli.users import users_app
from entrypoints.cli.worker import scheduler, worker

app = typer.Typer(
    name="portico",
    help="Run and operate Portico.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
app.command()(serve)
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.add_typer(users_app, name="users")
app.add_typer(outbox_app, name="outbox")
app.add_typer(push_app, name="push")
app.command()(worker)
app.command()(scheduler)
app.command()(seed)


def run() -> None:
    """Run the command line; the console script (`entrypoints.cli:main`) checks the Python first."""
    app()
