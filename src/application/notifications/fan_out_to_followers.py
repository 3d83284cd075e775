"""Use case, and job: notify every follower of a user, a batch at a time."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from application.audit.capture import not_audited
from application.common.ports.task_queue import TaskQueue
from application.common.ports.unit_of_work import UnitOfWork
from application.notifications.notification_factory import NotificationDraft, NotificationFactory
from application.notifications.ports import FollowerReader
from domain.notifications.notification import NotificationKind, Subject
from domain.users.values import UserId

FAN_OUT_TO_FOLLOWERS = "fan_out_to_followers"
"""The task name under which the next batch is enqueued."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FanOutToFollowersCommand:
    """Notify the followers of `followee` whose ids come after `after`."""

    followee: UserId
    draft: NotificationDraft
    after: UserId | None = None

    def as_payload(self) -> dict[str, str]:
        """The flat payload a task queue carries."""
        draft = self.draft
        return {
            "followee": str(self.followee),
            "after": "" if self.after is None else str(self.after),
            "kind": draft.kind.value,
            "actor": "" if draft.actor_id is None else str(draft.actor_id),
            "subject_type": draft.subject.type,
            "subject_id": draft.subject.id,
            "source": draft.source,
            "data": json.dumps(dict(draft.data)),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, str]) -> "FanOutToFollowersCommand":
        """Rebuild the command a worker received."""
        return cls(
            followee=UserId(UUID(payload["followee"])),
            after=UserId(UUID(payload["after"])) if payload["after"] else None,
            draft=NotificationDraft(
                kind=NotificationKind(payload["kind"]),
                actor_id=UserId(UUID(payload["actor"])) if payload["actor"] else None,
                subject=Subject(type=payload["subject_type"], id=payload["subject_id"]),
                source=payload["source"],
                data=json.loads(payload["data"]),
            ),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class FanOutPolicy:
    """How many followers one transaction notifies."""

    batch_size: int


@not_audited(
    "a consequence, not an act: stores the notifications a published article calls for,"
    " a batch of followers at a time; `article.publish` names who did it"
)
class FanOutToFollowers:
    """Notify followers in batches, each batch its own transaction.

    Rules:
    - Each batch reads the next `batch_size` followers by id, enqueues the batch after it,
      and stores its own notifications; so an author with a million followers never holds
      one huge transaction. The next batch is enqueued before this one commits: it reads
      followers, not notifications, so it need not wait, and a crash right after the
      commit cannot end the fan-out early.
    - A batch that runs twice (a redelivered job) skips the followers it already notified:
      each follower gets exactly one notification per event.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        followers: FollowerReader,
        factory: NotificationFactory,
        queue: TaskQueue,
        policy: FanOutPolicy,
    ) -> None:
        self._uow = uow
        self._followers = followers
        self._factory = factory
        self._queue = queue
        self._policy = policy

    async def __call__(self, command: FanOutToFollowersCommand) -> int:
        """Notify one batch; return how many notifications it stored."""
        async with self._uow:
            batch = await self._followers.followers(
                command.followee, after=command.after, limit=self._policy.batch_size
            )
            stored = await self._factory.create(command.draft, batch)
            if len(batch) == self._policy.batch_size:
                following = FanOutToFollowersCommand(
                    followee=command.followee, draft=command.draft, after=batch[-1]
                )
                await self._queue.enqueue(FAN_OUT_TO_FOLLOWERS, following.as_payload())
            await self._uow.commit()
        return len(stored)
