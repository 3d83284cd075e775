"""Use case: how many files, and how many bytes, per purpose and backend."""

from collections.abc import Sequence

from application.audit.capture import not_audited
from application.common.ports.unit_of_work import UnitOfWork
from application.files.ports import FileRepository, FileUsage


@not_audited("reads only: counts files for operators, and refuses no one")
class FileUsageReport:
    """Counts and bytes per purpose, status and backend, for operators."""

    def __init__(self, *, uow: UnitOfWork, files: FileRepository) -> None:
        self._uow = uow
        self._files = files

    async def __call__(self) -> Sequence[FileUsage]:
        """The usage, sorted by purpose, backend and status."""
        async with self._uow:
            usage = await self._files.usage()
        return sorted(usage, key=lambda row: (row.purpose.value, row.backend, row.status.value))
