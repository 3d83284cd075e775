"""Which files each purpose takes, how large, and how much one user may keep."""

from collections.abc import Mapping
from dataclasses import dataclass

from domain.files.errors import (
    EmptyFileError,
    FileTooLargeError,
    StorageQuotaExceededError,
    UnsupportedFileTypeError,
)
from domain.files.values import FilePurpose
from domain.shared.errors import DomainError

LARGEST_FILE_BYTES = 1 << 40
"""No purpose's limit may exceed this (1 TiB): the bound of the settings and of the API."""

PNG = "image/png"
JPEG = "image/jpeg"
GIF = "image/gif"
WEBP = "image/webp"
PDF = "application/pdf"
ZIP = "application/zip"
PLAIN_TEXT = "text/plain"

IMAGE_TYPES = frozenset({PNG, JPEG, GIF, WEBP})
"""Raster images a browser shows inline. SVG is not among them: it can carry script."""

ALLOWED_TYPES: Mapping[FilePurpose, frozenset[str]] = {
    FilePurpose.AVATAR: IMAGE_TYPES,
    FilePurpose.ARTICLE_IMAGE: IMAGE_TYPES,
    FilePurpose.ATTACHMENT: IMAGE_TYPES | {PDF, ZIP, PLAIN_TEXT},
}
"""The content types each purpose accepts, as detected from the bytes."""

EXTENSIONS: Mapping[str, str] = {
    PNG: ".png",
    JPEG: ".jpg",
    GIF: ".gif",
    WEBP: ".webp",
    PDF: ".pdf",
    ZIP: ".zip",
    PLAIN_TEXT: ".txt",
}
"""The usual file name extension of each accepted type."""
UNNAMED_STEM = "upload"
"""The name of a file uploaded without one, before its type's extension."""


def _megabytes(size: int) -> str:
    return f"{size / 1_048_576:.1f} MiB" if size >= 1_048_576 else f"{size} bytes"


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadPolicy:
    """The limits the settings chose: bytes per purpose, a quota per user, pixels per image.

    Every check raises the domain error the edge turns into its status, with a message
    that names the limit.
    """

    max_bytes: Mapping[FilePurpose, int]
    quota_bytes: int
    max_image_pixels: int

    def __post_init__(self) -> None:
        missing = set(FilePurpose) - set(self.max_bytes)
        if missing:
            raise ValueError(f"no size limit for {sorted(missing)}")

    def allowed_types(self, purpose: FilePurpose) -> frozenset[str]:
        """The content types `purpose` accepts."""
        return ALLOWED_TYPES[purpose]

    def check_size(self, purpose: FilePurpose, size: int) -> None:
        """Refuse an empty file, a negative size, or a file larger than `purpose` allows."""
        if size < 0:
            raise DomainError("must not be negative", field="size")
        if size == 0:
            raise EmptyFileError
        limit = self.max_bytes[purpose]
        if size > limit:
            raise FileTooLargeError(
                f"is larger than the {_megabytes(limit)} allowed for {purpose.value} files"
            )

    def check_type(self, purpose: FilePurpose, content_type: str) -> None:
        """Refuse a detected type that `purpose` does not accept."""
        allowed = ALLOWED_TYPES[purpose]
        if content_type not in allowed:
            raise UnsupportedFileTypeError(
                f"{content_type} is not accepted for {purpose.value} files; "
                f"send one of {', '.join(sorted(allowed))}"
            )

    def check_quota(self, *, in_use: int, incoming: int) -> None:
        """Refuse `incoming` bytes that would take an owner with `in_use` past the quota."""
        if in_use + incoming > self.quota_bytes:
            raise StorageQuotaExceededError(
                f"would exceed your storage quota of {_megabytes(self.quota_bytes)} "
                f"({_megabytes(in_use)} in use); delete files to make room"
            )
