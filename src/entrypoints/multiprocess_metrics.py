"""Where the processes of one `portico serve` keep their metrics (multiprocess mode)."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROMETHEUS_MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
"""The variable prometheus-client reads, when first imported, to count into files there."""


@contextmanager
def multiprocess_directory(configured: Path | None) -> Iterator[Path]:
    """The counting directory for one server's processes, made ready; set in the environment.

    `configured` is created if missing and emptied of the count files a previous run left
    (and only of those): counters of dead processes would otherwise still add up. Without
    one, a fresh temporary directory is used and removed when the block ends. Either way,
    PROMETHEUS_MULTIPROC_DIR names it for the processes started inside the block, which
    must import prometheus-client only after that (this process must not have counted).
    """
    temporary = configured is None
    directory = configured or Path(tempfile.mkdtemp(prefix="portico-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    previous = os.environ.get(PROMETHEUS_MULTIPROC_DIR)
    os.environ[PROMETHEUS_MULTIPROC_DIR] = str(directory)
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop(PROMETHEUS_MULTIPROC_DIR, None)
        else:
            os.environ[PROMETHEUS_MULTIPROC_DIR] = previous
        if temporary:
            shutil.rmtree(directory, ignore_errors=True)


def multiprocess_directory_in_use() -> Path | None:
    """The directory this process was started to count into, if any."""
    named = os.environ.get(PROMETHEUS_MULTIPROC_DIR)
    return Path(named) if named else None
