"""Web Push messages kept in memory and logged, for tests and development."""

from collections import deque

from loguru import logger

from adapters.webpush.sender import endpoint_origin
from application.notifications.ports import PushMessage, PushOutcome, PushSender
from domain.notifications.push import PushSubscription


class InProcessPushSender(PushSender):
    """The `PushSender` port without a push service: what was sent, in order, and a log line.

    Only the last `history` messages are kept, so a long-running process without a push
    service configured does not grow without bound.

    Endpoints passed to `mark_gone` answer GONE, as a push service does for a subscription
    the browser dropped; nothing is kept for them. The log line names the endpoint's origin
    and the payload size only: the rest of an endpoint is a capability, and the payload may
    be private.
    """

    def __init__(self, *, history: int = 1_000) -> None:
        self.sent: deque[tuple[PushSubscription, PushMessage]] = deque(maxlen=history)
        self._gone: set[str] = set()

    def mark_gone(self, endpoint: str) -> None:
        """Answer GONE for `endpoint` from now on."""
        self._gone.add(endpoint)

    async def send(self, subscription: PushSubscription, message: PushMessage) -> PushOutcome:
        """Keep the message and say so, or answer GONE for an endpoint marked gone."""
        origin = endpoint_origin(subscription.endpoint)
        if subscription.endpoint in self._gone:
            logger.info("push to {} is gone: the subscription was marked gone", origin)
            return PushOutcome.GONE
        self.sent.append((subscription, message))
        logger.info(
            "push to {} ({} bytes) kept in memory: no push service is configured",
            origin,
            len(message.payload),
        )
        return PushOutcome.DELIVERED
