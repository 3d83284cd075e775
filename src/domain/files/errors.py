"""The rules a file breaks, each its own class so the edge can answer each with its status."""

from domain.shared.errors import DomainError


class FileTooLargeError(DomainError):
    """The file is larger than its purpose allows; the edge answers 413."""

    field = "file"


class StorageQuotaExceededError(DomainError):
    """The file would take the owner past their storage quota; the edge answers 413."""

    field = "quota"


class UnsupportedFileTypeError(DomainError):
    """The bytes are not of a type the purpose allows; the edge answers 415."""

    field = "content_type"


class EmptyFileError(DomainError):
    """A file must hold at least one byte."""

    field = "file"
    message = "is empty"


class ImageTooLargeError(DomainError):
    """An image declares more pixels than are decoded safely (a decompression bomb)."""

    field = "file"


class UploadMismatchError(DomainError):
    """A direct upload's object is not the file that was announced: another size or digest."""

    field = "file"


class FileStateError(DomainError):
    """The file is not in a state that allows this (completing a ready file, say)."""

    field = "file"
