"""The `portico` command for operators.

This module is the console script's target, and it must still parse on an old Python, so
that an unsupported interpreter gets one line and exit status 2 instead of a traceback from
syntax it does not know. It imports the command itself only after the check.
"""

import os
import sys

OLDEST_SUPPORTED_PYTHON = (3, 11)
GRANIAN_ALLOCATOR_ENV = "_RJEM_MALLOC_CONF"
GRANIAN_ALLOCATOR_CONF = "oversize_threshold:65536"
"""Freed blocks of 64 KiB and more go back to the system at once in granian (docs/operations.md).

granian's HTTP layer allocates with its own jemalloc, which keeps freed pages for a decay
time and returns them only when it next allocates: after a burst of large bodies an idle
worker kept about 30 MB it no longer used. jemalloc's background purging cannot help, since
it is disabled in a forked worker. With this, allocations from 64 KiB up (body and
connection buffers) come from jemalloc's dedicated arena, which purges on free; smaller ones
keep the default. jemalloc reads the setting when granian's extension is loaded, so it is
set before any import of granian, and an operator's own setting wins.
"""


def main() -> None:
    """Console-script entry point: refuse an unsupported Python, then run the command."""
    if sys.version_info < OLDEST_SUPPORTED_PYTHON:
        running = ".".join(str(part) for part in sys.version_info[:3])
        oldest = ".".join(str(part) for part in OLDEST_SUPPORTED_PYTHON)
        sys.stderr.write(
            f"portico: Python {running} is not supported; use Python {oldest} or newer\n"
        )
        raise SystemExit(2)
    os.environ.setdefault(GRANIAN_ALLOCATOR_ENV, GRANIAN_ALLOCATOR_CONF)
    from entrypoints.cli.commands import run

    run()
