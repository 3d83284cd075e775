"""Text messages kept in memory and logged, for tests and development."""

import logging
from collections import deque

from application.notifications.ports import SmsMessage, SmsSender

_log = logging.getLogger(__name__)


class InProcessSmsSender(SmsSender):
    """The `SmsSender` port without a gateway: the last `history` messages, and a log line.

    The log line names the recipient only, never the body, which may hold a code.
    """

    def __init__(self, *, history: int = 1000) -> None:
        self.sent: deque[SmsMessage] = deque(maxlen=history)

    async def send(self, message: SmsMessage) -> None:
        """Keep the message and say so."""
        self.sent.append(message)
        _log.info("SMS to %s kept in memory: no SMS gateway is configured", message.to)
