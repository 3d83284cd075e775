"""Errors of the files use cases, beyond the rules the domain enforces."""

from application.common.errors import (
    ConcealedDenialError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
)


class StoredFileNotFoundError(NotFoundError):
    """No such file, or not one the caller may know of: another user's private file reads so."""

    field = "file"
    message = "not found"


class ConcealedFileError(StoredFileNotFoundError, ConcealedDenialError):
    """The file exists but is another user's: answered as not found, audited as denied.

    Reading or changing another user's file by its id is an object-level authorization
    probe (OWASP API1), which the audit log records and the caller cannot tell apart.
    """


class NotFileOwnerError(PermissionDeniedError):
    """Only the owner may do this to the file (a moderator may also delete it)."""

    field = "file"
    message = "belongs to another user"


class NothingUploadedError(ConflictError):
    """A direct upload was completed before anything reached its URL."""

    field = "file"
    message = "nothing was uploaded to the upload URL yet; PUT the file there first"


class UploadUrlInvalidError(PermissionDeniedError):
    """A direct upload URL's signature does not match, or the URL has expired."""

    field = "upload"


class ThumbnailNotReadyError(NotFoundError):
    """The image's thumbnail is not made yet, or the file is not an image."""

    field = "thumbnail"
    message = "not made yet; images get one shortly after upload"
