"""The `portico` command for operators.

This module is the console script's target, and it must still parse on an old Python, so
that an unsupported interpreter gets one line and exit status 2 instead of a traceback from
syntax it does not know. It imports the command itself only after the check.
"""

import sys

OLDEST_SUPPORTED_PYTHON = (3, 11)


def main() -> None:
    """Console-script entry point: refuse an unsupported Python, then run the command."""
    if sys.version_info < OLDEST_SUPPORTED_PYTHON:
        running = ".".join(str(part) for part in sys.version_info[:3])
        oldest = ".".join(str(part) for part in OLDEST_SUPPORTED_PYTHON)
        sys.stderr.write(
            f"portico: Python {running} is not supported; use Python {oldest} or newer\n"
        )
        raise SystemExit(2)
    from entrypoints.cli.commands import run  # noqa: PLC0415 - only once the Python is known to fit

    run()
