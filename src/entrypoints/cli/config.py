"""`portico config`: check the settings, and show what they resolve to."""

import typer
from rich.console import Console
from rich.table import Table

from adapters.sqlalchemy.engine import redact_url
from entrypoints.cli.common import settings_or_exit
from entrypoints.config.loader import setting_specs

config_app = typer.Typer(help="Check and show the configuration.", no_args_is_help=True)


@config_app.command()
def check() -> None:
    """Validate the settings; exit 2 with one line naming a bad variable."""
    settings_or_exit()
    typer.echo("configuration is valid")


@config_app.command()
def show() -> None:
    """Print every setting, its value and where it comes from; secrets are masked."""
    settings = settings_or_exit()
    table = Table("variable", "value", "default")
    for spec in setting_specs():
        value = getattr(getattr(settings, spec.section), spec.field)
        if spec.secret and value is not None:
            shown = "***"
        elif isinstance(value, str) and "://" in value:
            shown = repr(redact_url(value))
        else:
            shown = repr(value)
        table.add_row(spec.variable, shown, "" if value != spec.default else "yes")
    Console().print(table)


@config_app.command()
def reference() -> None:
    """Print the configuration reference as a Markdown table (for docs/configuration.md)."""
    typer.echo("| variable | type | default | meaning |")
    typer.echo("| --- | --- | --- | --- |")
    for spec in setting_specs():
        default = "(unset)" if spec.default is None else f"`{spec.default}`"
        kind = spec.type_name.replace("|", "\\|")
        typer.echo(f"| `{spec.variable}` | {kind} | {default} | {spec.description} |")
