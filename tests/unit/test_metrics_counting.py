"""Where things happen, they are counted: sign-ins, deliveries, cache reads, jobs, dead letters
and live connections, each read back from the metrics ports' memory twin."""

import asyncio
import uuid
from collections.abc import Mapping

import pytest

from adapters.cache.articles import CachingArticleReader
from adapters.inprocess.cache import InProcessCache
from adapters.inprocess.event_bus import InProcessEventBus
from adapters.inprocess.realtime import InProcessRealtimeBroadcaster
from adapters.inprocess.task_queue import InProcessTaskQueue
from adapters.memory.articles import InMemoryArticleReader
from adapters.memory.database import InMemoryDatabase
from adapters.memory.metrics import InMemoryMetrics
from application.articles.ports import ArticleQuery
from application.common.errors import DependencyUnavailableError
from application.common.outbox import OutboxMessage
from application.common.ports.metrics import JobOutcome, LiveChannel
from application.events.received_event import ReceivedEvent
from application.notifications.deliver_notification import DeliverNotificationCommand
from application.notifications.ports import DeliveryStatus
from application.users.log_in import LogInCommand
from application.users.session_policy import ClientInfo
from domain.notifications.notification import Channel
from domain.users.values import UserId
from entrypoints.http.realtime.hub import ConnectionHub
from entrypoints.worker.jobs import JobAttempts, JobRetryPolicy, JobRun
from tests.support.articles import ArticlesWorld
from tests.support.notification_world import NotificationWorld
from tests.support.users import UsersWorld


async def attempt(world: UsersWorld, password: str, *, ip: str = "198.51.100.7") -> str:
    command = LogInCommand(
        email="ada@test.com", password=password, client=ClientInfo(device="browser", ip=ip)
    )
    try:
        await world.log_in()(command)
    except Exception as exc:  # noqa: BLE001 - the outcome is what is compared
        return type(exc).__name__
    return "ok"


async def test_each_sign_in_counts_once_by_its_outcome() -> None:
    world = UsersWorld()
    await world.register("ada")
    outcomes = [await attempt(world, "password123")]
    outcomes += [await attempt(world, "wrong-password") for _ in range(12)]
    assert outcomes[0] == "ok"
    assert "TooManyRequestsError" in outcomes, "the throttle never locked the account"
    failures = outcomes.count("InvalidCredentialsError")
    locked = outcomes.count("TooManyRequestsError")
    assert world.metrics.count("portico_logins", "success") == 1
    assert world.metrics.count("portico_logins", "failure") == failures
    assert world.metrics.count("portico_logins", "locked") == locked
    assert failures + locked == 12


async def test_a_blank_email_is_not_a_sign_in_attempt() -> None:
    world = UsersWorld()
    with pytest.raises(Exception, match="blank"):
        await world.log_in()(LogInCommand(email=" ", password="x"))
    assert sum(world.metrics.counts.values()) == 0


async def test_deliveries_count_by_channel_and_recorded_outcome() -> None:
    world = NotificationWorld()
    ada, bob = await world.user("ada"), await world.user("bob", verified=True)
    notification = await world.notified(bob, ada)
    email = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.EMAIL)
    sms = DeliverNotificationCommand(notification_id=notification.id, channel=Channel.SMS)
    world.mailer.down = True
    with pytest.raises(ConnectionError):
        await world.deliver()(email)
    world.mailer.down = False
    assert await world.deliver()(email) is DeliveryStatus.SENT
    assert await world.deliver()(sms) is DeliveryStatus.SKIPPED
    counted = world.metrics
    assert counted.count("portico_notification_deliveries", "email", "failed") == 1
    assert counted.count("portico_notification_deliveries", "email", "sent") == 1
    assert counted.count("portico_notification_deliveries", "sms", "skipped") == 1
    assert counted.count("portico_notification_deliveries", "email", "skipped") == 0


async def test_cache_reads_count_hits_and_misses() -> None:
    metrics = InMemoryMetrics()
    reader = CachingArticleReader(
        InMemoryArticleReader(InMemoryDatabase()), InProcessCache(), ttl_seconds=60, metrics=metrics
    )
    query = ArticleQuery(limit=5, offset=0)
    await reader.page(query, viewer=None)
    await reader.page(query, viewer=None)
    await reader.tags()
    await reader.page(query, viewer=UserId(uuid.uuid4()))  # signed in: not cached, not counted
    assert metrics.count("portico_cache_lookups", "content", "miss") == 2
    assert metrics.count("portico_cache_lookups", "content", "hit") == 1


async def test_in_process_jobs_count_running_then_how_each_run_ended() -> None:
    metrics = InMemoryMetrics()
    runs: dict[str, int] = {}
    running = asyncio.Event()
    release = asyncio.Event()

    async def run(task: str, payload: Mapping[str, str]) -> None:
        runs[task] = runs.get(task, 0) + 1
        if task == "slow":
            running.set()
            await release.wait()
        if task == "flaky" and runs[task] == 1:
            raise RuntimeError("first run fails")
        if task == "broken":
            raise RuntimeError("always fails")

    queue = InProcessTaskQueue(run, attempts=2, first_delay_seconds=0, metrics=metrics)
    await queue.enqueue("slow", {})
    await running.wait()
    assert metrics.gauge("portico_jobs_running", "slow") == 1
    release.set()
    for task in ("flaky", "broken"):
        await queue.enqueue(task, {})
    await queue.drain()
    assert metrics.gauge("portico_jobs_running", "slow") == 0
    assert metrics.count("portico_jobs", "slow", "succeeded") == 1
    assert metrics.count("portico_jobs", "flaky", "retried") == 1
    assert metrics.count("portico_jobs", "flaky", "succeeded") == 1
    assert metrics.count("portico_jobs", "broken", "retried") == 1
    assert metrics.count("portico_jobs", "broken", "failed") == 1


class _Requeued:
    def __init__(self) -> None:
        self.attempts: list[int] = []

    async def enqueue_attempt(self, task: str, payload: Mapping[str, str], *, attempt: int) -> None:
        self.attempts.append(attempt)


@pytest.mark.parametrize(
    ("failure", "attempt", "outcome"),
    [
        (None, 1, JobOutcome.SUCCEEDED),
        (ValueError("bad"), 1, JobOutcome.RETRIED),
        (ValueError("bad"), 3, JobOutcome.FAILED),
        (DependencyUnavailableError("is down", field="database"), 3, JobOutcome.DEFERRED),
    ],
)
async def test_a_worker_job_run_counts_by_how_it_ended(
    failure: Exception | None, attempt: int, outcome: JobOutcome
) -> None:
    metrics = InMemoryMetrics()
    attempts = JobAttempts(_Requeued(), metrics=metrics)  # type: ignore[arg-type]

    async def job() -> None:
        if failure is not None:
            raise failure

    policy = JobRetryPolicy(max_attempts=3, retry_base_seconds=0)
    await attempts.settle(job(), JobRun(task="t", payload={}, attempt=attempt), policy)
    assert {labels: n for (_, labels), n in metrics.counts.items()} == {("t", outcome.value): 1}
    assert metrics.gauge("portico_jobs_running", "t") == 0


async def test_an_event_parked_by_the_in_process_bus_is_a_dead_letter() -> None:
    metrics = InMemoryMetrics()
    world = ArticlesWorld()
    await world.writer("alice")
    await world.writer("bob")

    async def failing(event: ReceivedEvent) -> None:
        raise RuntimeError("handler bug")

    bus = InProcessEventBus(failing, max_attempts=2, retry_base_seconds=0, metrics=metrics)
    messages: list[OutboxMessage] = list(world.database.outbox)
    await bus.publish(messages)
    assert metrics.count("portico_events_dead_lettered") == len(messages) == 2


async def test_the_hub_counts_sockets_and_streams_while_they_last() -> None:
    metrics = InMemoryMetrics()
    hub = ConnectionHub(queue_size=4, max_per_user=5)
    hub.start(InProcessRealtimeBroadcaster(), metrics=metrics)
    try:
        ada = UserId(uuid.uuid4())
        socket = await hub.attach(ada, session_id=None)
        stream = await hub.attach(ada, session_id=None, channel=LiveChannel.SSE)
        with hub.hold(ada, max_live=10):
            assert metrics.gauge("portico_live_connections", "websocket") == 1
            assert metrics.gauge("portico_live_connections", "sse") == 2
        hub.detach(socket)
        hub.detach(stream)
        assert metrics.gauge("portico_live_connections", "websocket") == 0
        assert metrics.gauge("portico_live_connections", "sse") == 0
    finally:
        await hub.stop(grace_seconds=0)
