"""Events raised by the StoredFile aggregate."""

from dataclasses import dataclass
from typing import ClassVar

from domain.shared.events import DomainEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class FileEvent(DomainEvent):
    """An event about one stored file; `aggregate_id` is the file's id."""

    aggregate_type: ClassVar[str] = "file"


@dataclass(frozen=True, slots=True, kw_only=True)
class FileUploaded(FileEvent):
    """A file's bytes are stored and checked, and it can be served."""

    event_type: ClassVar[str] = "file.uploaded"
    owner_id: str
    purpose: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FileDeleted(FileEvent):
    """A ready file was deleted; `deleted_by` is its owner or a moderator."""

    event_type: ClassVar[str] = "file.deleted"
    owner_id: str
    purpose: str
    deleted_by: str
