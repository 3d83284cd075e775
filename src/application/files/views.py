"""What the files use cases hand back: a file as its owner and readers see it."""

from dataclasses import dataclass
from datetime import datetime

from domain.files.stored_file import StoredFile


@dataclass(frozen=True, slots=True, kw_only=True)
class FileView:
    """A stored file's public facts; never its storage key or backend."""

    id: str
    purpose: str
    name: str
    content_type: str
    size: int
    sha256: str
    status: str
    url: str
    thumbnail_url: str | None
    article_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, stored: StoredFile, *, url: str, thumbnail_url: str | None) -> "FileView":
        """The view of `stored`, reachable at `url`."""
        return cls(
            id=str(stored.id),
            purpose=stored.purpose.value,
            name=str(stored.name),
            content_type=stored.content_type,
            size=stored.size,
            sha256=str(stored.sha256),
            status=stored.status.value,
            url=url,
            thumbnail_url=thumbnail_url if stored.thumbnail_key is not None else None,
            article_id=str(stored.article_id) if stored.article_id is not None else None,
            created_at=stored.created_at,
        )
