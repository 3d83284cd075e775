"""Helpers every command shares: settings or a one-line failure, and clean exits."""

import signal
import sys
from types import FrameType
from typing import NoReturn

import typer

from entrypoints.bootstrap import setup_logging, with_signing_secret
from entrypoints.cli.exit_codes import ExitCode
from entrypoints.config import ConfigurationError, Settings, load_settings


def fail(message: str, code: ExitCode) -> NoReturn:
    """Print one line to stderr and exit with `code`; no traceback."""
    print(f"portico: {message}", file=sys.stderr)  # noqa: T201 - the CLI's error channel
    raise typer.Exit(int(code))


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


def settings_or_exit() -> Settings:
    """Load and validate the settings, configure logging, or exit 2 naming the variable."""
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        fail(f"configuration error: {exc}", ExitCode.CONFIGURATION)
    setup_logging(settings)
    return settings


def with_signing_secret_logged(settings: Settings) -> Settings:
    """The settings with a JWT secret resolved, and the log scrubbing it from then on."""
    resolved = with_signing_secret(settings)
    if resolved is not settings:
        setup_logging(resolved)
    return resolved
