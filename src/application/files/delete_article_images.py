"""Event handler: an article's images go with it."""

from functools import partial
from uuid import UUID

from application.audit.capture import audited
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.events.event_handler import EventHandler
from application.events.received_event import ReceivedEvent
from application.files.delete_file import remove_objects
from application.files.ports import FileRepository, FileStorage
from domain.articles.values import ArticleId
from domain.users.values import UserId


@audited(
    "article.images_delete", target="article", target_id=lambda event: event.payload.get("slug")
)
class DeleteArticleImages(EventHandler):
    """On `article.deleted`: delete the images the article carried.

    Runs in the transaction of the event's handling, so a retry after a failure finds the
    images still attached and does the same. Each image's `file.deleted` names who
    deleted the article. The bytes go once the transaction commits.
    """

    def __init__(
        self, *, uow: UnitOfWork, files: FileRepository, storage: FileStorage, clock: Clock
    ) -> None:
        self._uow = uow
        self._files = files
        self._storage = storage
        self._clock = clock

    async def __call__(self, event: ReceivedEvent) -> None:
        """Delete every image attached to the deleted article."""
        article_id = ArticleId(UUID(event.aggregate_id))
        deleted_by = UserId(UUID(str(event.payload["deleted_by"])))
        now = self._clock.now()
        for attached in await self._files.attached_to(article_id):
            stored = await self._files.get(attached.id, for_update=True)
            if stored is not None and stored.delete(by=deleted_by, now=now):
                await self._files.save(stored)
                self._uow.track(stored)
                self._uow.after_commit(partial(remove_objects, self._storage, stored))
