"""What `portico` exits with, so scripts and orchestrators can tell failures apart."""

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented in docs/operations.md."""

    OK = 0
    FAILURE = 1
    CONFIGURATION = 2
    DEPENDENCY_UNAVAILABLE = 3
