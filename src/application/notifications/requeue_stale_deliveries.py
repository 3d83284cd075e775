"""Use case: enqueue again the deliveries whose jobs never ran."""

from application.audit.capture import not_audited
from application.common.ports.clock import Clock
from application.common.ports.task_queue import TaskQueue
from application.common.ports.unit_of_work import UnitOfWork
from application.notifications.delivery_policy import DeliverySweepPolicy
from application.notifications.notification_factory import enqueue_deliveries
from application.notifications.ports import DeliveryLog

REQUEUE_BATCH = 500


@not_audited(
    "delivery bookkeeping: enqueues again deliveries whose jobs were lost, every few"
    " seconds; it changes nothing anyone asked for"
)
class RequeueStaleDeliveries:
    """Find deliveries still pending long after their notification was created; enqueue them.

    Rules:
    - A delivery is pending from the transaction that creates its notification until its
      job records an outcome. One pending for longer than `stale_after` lost its job (the
      process died between the commit and the enqueue, or the queue was down), so it is
      enqueued again.
    - A delivery being sent is stale once its claim is older than `stale_after`: its run
      died. A run that is alive but cannot record its outcome (the database is away)
      stops trying before then (`DeliverySweepPolicy.recording_deadline`), so a delivery
      whose message went out is not sent again while its run is still recording it.
    - Claims are atomic: several workers sweeping at once enqueue each delivery once. A job
      whose send alone outlasted `stale_after` may run twice; the delivery job skips what
      is already sent.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        deliveries: DeliveryLog,
        queue: TaskQueue,
        clock: Clock,
        policy: DeliverySweepPolicy,
    ) -> None:
        self._uow = uow
        self._deliveries = deliveries
        self._queue = queue
        self._clock = clock
        self._policy = policy

    async def __call__(self) -> int:
        """Enqueue up to one batch; return how many deliveries were enqueued again."""
        now = self._clock.now()
        async with self._uow:
            claimed = await self._deliveries.claim_stale_pending(
                older_than=now - self._policy.stale_after, now=now, limit=REQUEUE_BATCH
            )
            await self._uow.commit()
        if claimed:
            await enqueue_deliveries(self._queue, claimed)
        return len(claimed)
