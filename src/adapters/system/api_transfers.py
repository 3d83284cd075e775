"""The presigning half of file storage, for backends that cannot presign requests."""

from datetime import timedelta

from application.files.ports import PresignedRequest
from domain.files.values import Sha256Digest


class TransfersThroughTheApi:
    """Presigns nothing, so the API carries every upload and download itself.

    Mixed into the `FileStorage` adapters of a directory and of memory, which no client can
    reach without the API.
    """

    async def presign_put(
        self,
        key: str,  # noqa: ARG002 - nothing to presign
        *,
        size: int,  # noqa: ARG002 - nothing to presign
        content_type: str,  # noqa: ARG002 - nothing to presign
        sha256: Sha256Digest,  # noqa: ARG002 - nothing to presign
        expires_in: timedelta,  # noqa: ARG002 - nothing to presign
    ) -> PresignedRequest | None:
        """None: uploads go through the API."""
        return None

    async def presign_get(
        self,
        key: str,  # noqa: ARG002 - nothing to presign
        *,
        content_type: str,  # noqa: ARG002 - nothing to presign
        download_name: str,  # noqa: ARG002 - nothing to presign
        expires_in: timedelta,  # noqa: ARG002 - nothing to presign
    ) -> str | None:
        """None: downloads go through the API."""
        return None
