"""`portico config`: check the settings, and show what they resolve to."""

import json
from typing import Annotated, Any

import typer

from entrypoints.cli.tree import command_group

config_app = command_group("Check and show the configuration.")

MASK = "***"


@config_app.command()
def check() -> None:
    """Validate the settings; exit 2 with one line naming a bad variable."""
    from entrypoints.cli.common import settings_or_exit

    settings_or_exit()
    typer.echo("configuration is valid")


@config_app.command()
def show(
    as_json: Annotated[  # noqa: FBT002 - typer declares flags as boolean defaults
        bool, typer.Option("--json", help="Print a JSON object: variable to value and source.")
    ] = False,
) -> None:
    """Print every setting, its value and its source (default, env file, environment).

    Secrets are masked and URL passwords hidden. Names and values are printed whole, never
    cut or wrapped, piped or not.
    """
    from adapters.sqlalchemy.engine import redact_url
    from entrypoints.cli.common import settings_or_exit
    from entrypoints.config.loader import setting_sources, setting_specs

    settings = settings_or_exit()
    sources = setting_sources()
    rows: list[tuple[str, Any, str]] = []
    for spec in setting_specs():
        value = getattr(getattr(settings, spec.section), spec.field)
        if spec.secret and value is not None:
            value = MASK
        elif isinstance(value, str) and "://" in value:
            value = redact_url(value)
        rows.append((spec.variable, value, sources[spec.variable]))
    if as_json:
        shown = {variable: {"value": value, "source": source} for variable, value, source in rows}
        typer.echo(json.dumps(shown, indent=2))
        return
    table = [("variable", "source", "value")] + [
        (variable, source, "(unset)" if value is None else str(value))
        for variable, value, source in rows
    ]
    widths = [max(len(row[column]) for row in table) for column in range(2)]
    for variable, source, value in table:
        typer.echo(f"{variable:<{widths[0]}}  {source:<{widths[1]}}  {value}".rstrip())


@config_app.command()
def reference() -> None:
    """Print the configuration reference as a Markdown table (for docs/configuration.md)."""
    from entrypoints.config.loader import setting_specs

    typer.echo("| variable | type | default | meaning |")
    typer.echo("| --- | --- | --- | --- |")
    for spec in setting_specs():
        default = "(unset)" if spec.default is None else f"`{spec.default}`"
        kind = spec.type_name.replace("|", "\\|")
        typer.echo(f"| `{spec.variable}` | {kind} | {default} | {spec.description} |")
