"""Where files are read, and the signed URLs that let a client upload without a token."""

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from application.common.ports.opaque_tokens import OpaqueTokens
from application.files.errors import UploadUrlInvalidError
from application.files.views import FileView
from domain.files.stored_file import StoredFile
from domain.files.values import FileId


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectTransfers:
    """How long presigned and signed URLs work, and whether downloads are redirected.

    With `redirect_downloads`, storage that presigns GETs (S3) serves the bytes itself;
    otherwise they stream through the API.
    """

    expires_in: timedelta
    redirect_downloads: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class FileLinks:
    """Builds the API's file URLs from the service's public URL, and signs upload URLs.

    A backend without presigned requests (a directory, memory) still offers the direct
    upload flow: the client PUTs the bytes to ``/api/files/{id}/content`` with an expiry
    and a signature in the query, keyed by the service's secret, so the URL works without
    a token and only until it expires, as an S3 presigned URL does.
    """

    public_url: str
    tokens: OpaqueTokens

    def file_url(self, file_id: FileId) -> str:
        """Where the file's bytes are read."""
        return f"{self.public_url.rstrip('/')}/api/files/{file_id}"

    def thumbnail_url(self, file_id: FileId) -> str:
        """Where the image's thumbnail is read."""
        return f"{self.file_url(file_id)}/thumbnail"

    def avatar_url(self, file_id: FileId) -> str:
        """What a profile's image is once the file is its avatar: the stripped thumbnail."""
        return self.thumbnail_url(file_id)

    def avatar_file_id(self, image: str | None) -> FileId | None:
        """The file a profile image shows, if it is an avatar uploaded here."""
        prefix, suffix = f"{self.public_url.rstrip('/')}/api/files/", "/thumbnail"
        if image is None or not image.startswith(prefix) or not image.endswith(suffix):
            return None
        try:
            return FileId(UUID(image[len(prefix) : -len(suffix)]))
        except ValueError:
            return None

    def view(self, stored: StoredFile) -> FileView:
        """The file as its readers see it, with its URLs."""
        return FileView.of(
            stored, url=self.file_url(stored.id), thumbnail_url=self.thumbnail_url(stored.id)
        )

    def upload_url(self, file_id: FileId, *, expires_at: datetime) -> str:
        """A URL that accepts the file's bytes until `expires_at`."""
        expires = int(expires_at.timestamp())
        signature = self._signature(file_id, expires)
        return f"{self.file_url(file_id)}/content?expires={expires}&signature={signature}"

    def check_upload_url(
        self, file_id: FileId, *, expires: int, signature: str, now: datetime
    ) -> None:
        """Raise `UploadUrlInvalidError` unless the URL was signed here and is still valid."""
        if not hmac.compare_digest(self._signature(file_id, expires).encode(), signature.encode()):
            raise UploadUrlInvalidError("the upload URL's signature does not match")
        if now.timestamp() > expires:
            raise UploadUrlInvalidError("the upload URL has expired; start a new upload")

    def _signature(self, file_id: FileId, expires: int) -> str:
        return self.tokens.fingerprint(f"direct-upload:{file_id}:{expires}")
