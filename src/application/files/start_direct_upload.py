"""Use case: start a direct upload, which the client sends to a presigned URL."""

from dataclasses import dataclass

from application.audit.capture import audited, identify_target
from application.common.identity import Identity
from application.common.ports.clock import Clock
from application.common.ports.ids import IdGenerator
from application.common.ports.unit_of_work import UnitOfWork
from application.files.links import DirectTransfers, FileLinks
from application.files.ports import FileRepository, FileStorage, PresignedRequest
from application.files.views import FileView
from domain.files.policy import UploadPolicy
from domain.files.stored_file import StoredFile
from domain.files.values import FileId, FileName, FilePurpose, Sha256Digest


@dataclass(frozen=True, slots=True, kw_only=True)
class StartDirectUploadCommand:
    """What the client will upload: its name, exact size, type and SHA-256, announced now."""

    actor: Identity
    purpose: FilePurpose
    name: str
    size: int
    content_type: str
    sha256: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectUpload:
    """The pending file, and the request that uploads its bytes."""

    file: FileView
    upload: PresignedRequest


@audited("file.upload_start", target="file")
class StartDirectUpload:
    """Record a pending file and presign the request that uploads it.

    Rules:
    - The announced name, size and type must meet the purpose's rules; the announced size
      counts against the owner's quota (checked under the per-owner lock) until the upload
      is completed, rejected or discarded.
    - The URL accepts exactly the announced size and type, and expires after
      `DirectTransfers.expires_in`. Storage that presigns (S3) gets the bytes directly;
      otherwise the URL is the API's own, signed by the service.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        files: FileRepository,
        storage: FileStorage,
        policy: UploadPolicy,
        ids: IdGenerator,
        clock: Clock,
        links: FileLinks,
        transfers: DirectTransfers,
    ) -> None:
        self._uow = uow
        self._files = files
        self._storage = storage
        self._policy = policy
        self._ids = ids
        self._clock = clock
        self._links = links
        self._transfers = transfers

    async def __call__(self, command: StartDirectUploadCommand) -> DirectUpload:
        """Record the pending file; return it with the upload request."""
        name = FileName.parse(command.name)
        sha256 = Sha256Digest.parse(command.sha256)
        self._policy.check_size(command.purpose, command.size)
        self._policy.check_type(command.purpose, command.content_type)
        now = self._clock.now()
        async with self._uow:
            in_use = await self._files.bytes_in_use(command.actor.user_id, lock=True)
            self._policy.check_quota(in_use=in_use, incoming=command.size)
            stored = StoredFile.announced(
                id=FileId(self._ids.new_id()),
                owner_id=command.actor.user_id,
                purpose=command.purpose,
                name=name,
                content_type=command.content_type,
                size=command.size,
                sha256=sha256,
                backend=self._storage.backend,
                now=now,
            )
            await self._files.add(stored)
            identify_target(stored.id)
            await self._uow.commit()
        upload = await self._storage.presign_put(
            stored.storage_key,
            size=stored.size,
            content_type=stored.content_type,
            sha256=stored.sha256,
            expires_in=self._transfers.expires_in,
        )
        if upload is None:
            expires_at = now + self._transfers.expires_in
            upload = PresignedRequest(
                url=self._links.upload_url(stored.id, expires_at=expires_at),
                method="PUT",
                headers={"Content-Type": stored.content_type, "Content-Length": str(stored.size)},
                expires_at=expires_at,
            )
        return DirectUpload(file=self._links.view(stored), upload=upload)
