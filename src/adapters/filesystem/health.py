"""Probes the local storage directory by writing in it."""

import asyncio
import os
import tempfile
from pathlib import Path

from adapters.filesystem.file_storage import PART_SUFFIX, PRIVATE_DIRECTORY_MODE
from application.health.ports import HealthProbe


class LocalStorageProbe(HealthProbe):
    """Reports file storage up when a file can be made in the directory and removed again.

    That is what a put needs: the directory is there, is a directory, and the service's
    user may write in it, on a file system mounted read-write. A missing directory is made
    first, as `LocalFileStorage` makes it when built, so a process that no file request
    has reached yet is ready too. The file is named as a put's part (a leading dot,
    ``.part``): listing never shows it, and one left by a process that died mid-probe is
    cleared with the abandoned uploads.
    """

    dependency = "file_storage"

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    async def check(self) -> None:
        """Make and remove an empty file, in a worker thread; raise the OSError of a failure."""
        await asyncio.to_thread(_make_and_remove_a_file, self._directory)


def _make_and_remove_a_file(directory: Path) -> None:
    directory.mkdir(mode=PRIVATE_DIRECTORY_MODE, parents=True, exist_ok=True)
    descriptor, path = tempfile.mkstemp(dir=directory, prefix=".health-probe.", suffix=PART_SUFFIX)
    os.close(descriptor)
    Path(path).unlink()
