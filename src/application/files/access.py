"""Loading a file on behalf of a caller, and who may do what with it."""

from application.common.identity import Identity
from application.common.permissions import Permission, role_allows
from application.files.errors import ConcealedFileError, NotFileOwnerError, StoredFileNotFoundError
from application.files.ports import FileRepository
from domain.files.stored_file import StoredFile
from domain.files.values import FileId, FileStatus
from domain.users.values import UserId


async def load_file(
    files: FileRepository,
    file_id: FileId,
    *,
    reader: UserId | None,
    thumbnail: bool = False,
) -> StoredFile:
    """The file, if `reader` may read it (or its thumbnail); `StoredFileNotFoundError` if not.

    A file the caller may not read is reported missing, so its existence leaks nothing; a
    ready one that is someone else's is `ConcealedFileError`, which the audit log records.
    """
    stored = await files.get(file_id)
    if stored is None or stored.status is not FileStatus.READY:
        raise StoredFileNotFoundError
    if not stored.is_readable_by(reader, thumbnail=thumbnail):
        raise ConcealedFileError
    return stored


async def load_own_file(
    files: FileRepository, file_id: FileId, *, owner: UserId, for_update: bool = True
) -> StoredFile:
    """The caller's own file in any live status; missing if it is another's or deleted.

    Another's live file is `ConcealedFileError`: missing to the caller, denied in the audit log.
    """
    stored = await files.get(file_id, for_update=for_update)
    if stored is None or stored.status is FileStatus.DELETED:
        raise StoredFileNotFoundError
    if not stored.is_owned_by(owner):
        raise ConcealedFileError
    return stored


def ensure_may_delete(stored: StoredFile, actor: Identity) -> None:
    """The owner or a moderator may delete a file.

    Anyone else gets `NotFileOwnerError` for a file they may read, and
    `ConcealedFileError` (not found) for one they may not know of.
    """
    if stored.is_owned_by(actor.user_id) or role_allows(actor.role, Permission.MODERATE_CONTENT):
        return
    if stored.is_readable_by(actor.user_id, thumbnail=True):
        raise NotFileOwnerError
    raise ConcealedFileError
