"""Fakes for the notification use case tests: a recording task queue, a mailer that can be
down, a push sender that refuses endpoints, and a rate limiter whose server is down.
"""

from collections.abc import Callable, Mapping

from adapters.inprocess.push import InProcessPushSender
from adapters.memory.mailer import InMemoryMailer
from application.common.ports.rate_limits import (
    RateLimit,
    RateLimitDecision,
    RateLimiterUnavailableError,
)
from application.notifications.ports import (
    EmailMessage,
    PushMessage,
    PushOutcome,
    PushRejectedError,
)
from domain.notifications.push import PushSubscription


class RecordingQueue:
    """The `TaskQueue` port as a list of jobs; `check` runs when a job is enqueued.

    A real queue may start the job as soon as `enqueue` returns, so what `check` sees is
    what the job would see.
    """

    def __init__(self) -> None:
        self.jobs: list[tuple[str, dict[str, str]]] = []
        self.check: Callable[[str, Mapping[str, str]], None] | None = None

    async def enqueue(self, task: str, payload: Mapping[str, str]) -> None:
        if self.check is not None:
            self.check(task, payload)
        self.jobs.append((task, dict(payload)))

    def tasks(self) -> list[str]:
        return [task for task, _ in self.jobs]

    def of(self, task: str) -> list[dict[str, str]]:
        return [payload for name, payload in self.jobs if name == task]

    def take(self, task: str) -> list[dict[str, str]]:
        """Remove and return the payloads of `task`, oldest first."""
        taken = self.of(task)
        self.jobs = [(name, payload) for name, payload in self.jobs if name != task]
        return taken


class FlakyMailer(InMemoryMailer):
    """Keeps messages, or refuses them all while `down`."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def send(self, message: EmailMessage) -> None:
        if self.down:
            raise ConnectionError("the SMTP server is down")
        await super().send(message)


class PickyPushSender(InProcessPushSender):
    """Refuses for good the endpoints in `refusing`; otherwise the memory push sender."""

    def __init__(self) -> None:
        super().__init__()
        self.refusing: set[str] = set()
        self.attempted: list[str] = []

    async def send(self, subscription: PushSubscription, message: PushMessage) -> PushOutcome:
        self.attempted.append(subscription.endpoint)
        if subscription.endpoint in self.refusing:
            raise PushRejectedError("400: the payload is too large")
        return await super().send(subscription, message)


class UnavailableLimiter:
    """A `RateLimiter` whose server is down."""

    async def acquire(self, key: str, rate: RateLimit) -> RateLimitDecision:
        raise RateLimiterUnavailableError("connection refused")

    async def refund(self, key: str, rate: RateLimit) -> None:
        raise RateLimiterUnavailableError("connection refused")
