"""Helpers every command shares: settings or a one-line failure, and clean exits."""

import sys
from typing import NoReturn

import typer

from entrypoints.bootstrap import setup_logging
from entrypoints.cli.exit_codes import ExitCode
from entrypoints.config import ConfigurationError, Settings, load_settings


def fail(message: str, code: ExitCode) -> NoReturn:
    """Print one line to stderr and exit with `code`; no traceback."""
    print(f"portico: {message}", file=sys.stderr)  # noqa: T201 - the CLI's error channel
    raise typer.Exit(int(code))


def settings_or_exit() -> Settings:
    """Load and validate the settings, configure logging, or exit 2 naming the variable."""
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        fail(f"configuration error: {exc}", ExitCode.CONFIGURATION)
    setup_logging(settings)
    return settings
