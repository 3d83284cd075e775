"""The Portico deployments the audit acceptance tests run against, on a database of their own.

- ``embedded``: one `portico serve` as `make run` starts it: the outbox relay, the audit
  sealer, the jobs and the event handlers all run in the API process.
- ``service``: `portico serve` only writes (OUTBOX_RELAY_IN_API=false); a `portico worker`
  relays the outbox to a Kafka-protocol broker (librdkafka's mock cluster), consumes it,
  runs the jobs from a Redis stream, and seals the audit log.

Both trust 127.0.0.1 as a proxy, so each simulated client is told apart by the address it
puts in X-Forwarded-For; both text through a local SMS gateway and mail to `.eml` files.
Each deployment gets a schema of its own, so the audit log it leaves holds only its own
entries and `portico audit verify` walks a chain nobody else wrote or tampered with.
"""

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import redis

from tests.support.kafka_cluster import kafka_mock_cluster
from tests.support.live_clients import SmsGateway, server_failures
from tests.support.network import free_port
from tests.support.notifications import Process, portico_processes, wait_until_live
from tests.support.postgres import isolated_schema, run_alembic
from tests.support.server import clean_env

Mode = Literal["embedded", "service"]
MODES: tuple[Mode, ...] = ("embedded", "service")
JWT_SECRET = "audit-acceptance-jwt-secret-0123456789abcdef"
AUDIT_SIGNING_KEY = "audit-acceptance-signing-key-0123456789abcdef"
SMS_ACCOUNT = "ACaudit000000000000000000000000000"
SMS_TOKEN = "audit-acceptance-sms-auth-token"
AUTH_LIMIT = 12
"""Requests per client address to each auth route per minute: the scenario stays under it
on every route, and the rate-limit step reaches it with a dozen cheap failed sign-ins."""
CONFIGURED_SECRETS = (JWT_SECRET, AUDIT_SIGNING_KEY, SMS_TOKEN)


@dataclass
class Stack:
    """A running deployment: where to reach it and what its processes share."""

    mode: Mode
    base_url: str
    env: dict[str, str]
    """The settings every process of the deployment runs with; CLI commands use them too."""
    database_url: str
    data_dir: Path
    workdir: Path
    sms: SmsGateway
    processes: list[Process]

    def failures(self) -> list[str]:
        """Log lines of any process that report a 5xx, an error or a traceback."""
        return [
            f"{process.name}: {line}"
            for process in self.processes
            for line in server_failures(process.log())
        ]


def _settings(database_url: str, data_dir: Path, port: int, sms: SmsGateway) -> dict[str, str]:
    return clean_env(
        DATABASE_URL=database_url,
        DATA_DIR=str(data_dir),
        APP_PORT=str(port),
        APP_PUBLIC_URL=f"http://127.0.0.1:{port}",
        JWT_SECRET=JWT_SECRET,
        AUDIT_SIGNING_KEY=AUDIT_SIGNING_KEY,
        AUDIT_SEAL_INTERVAL_SECONDS="0.1",
        OUTBOX_POLL_INTERVAL_SECONDS="0.05",
        TRUSTED_PROXIES="127.0.0.1",
        RATE_LIMIT_AUTH_PER_IP=str(AUTH_LIMIT),
        RATE_LIMIT_REGISTRATIONS_PER_IP="1000",
        STEP_UP_WINDOW_SECONDS="0",
        SMS_BASE_URL=sms.base_url,
        SMS_ACCOUNT_SID=SMS_ACCOUNT,
        SMS_AUTH_TOKEN=SMS_TOKEN,
        SMS_FROM="+15005550006",
        PUSH_ALLOW_LOCAL_ENDPOINTS="true",
    )


@contextmanager
def _service_settings(redis_url: str) -> Iterator[dict[str, str]]:
    """What service mode adds: the broker, the job stream, names of this run's own."""
    run = f"audit{uuid.uuid4().hex[:10]}"
    # The mock broker logs every request at DEBUG: keep that out of pytest's failure reports.
    mock_log = logging.getLogger("tests.kafka_mock")
    mock_log.propagate = False
    try:
        with kafka_mock_cluster() as bootstrap:
            yield {
                "REDIS_URL": redis_url,
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "KAFKA_TOPIC_PREFIX": f"{run}.",
                "KAFKA_CONSUMER_GROUP": run,
                "JOBS_QUEUE": "redis",
                "JOBS_STREAM": f"{run}:jobs",
                "REALTIME_CHANNEL_PREFIX": f"{run}:rt:",
                "OUTBOX_RELAY_IN_API": "false",
            }
    finally:
        mock_log.propagate = True
        client = redis.Redis.from_url(redis_url)
        try:
            client.delete(f"{run}:jobs")
        finally:
            client.close()


@contextmanager
def audit_stack(mode: Mode, postgres_url: str, redis_url: str, root: Path) -> Iterator[Stack]:
    """Start the deployment `mode` names on a freshly migrated schema; stop it after."""
    with isolated_schema(postgres_url, prefix="audit_e2e") as database_url:
        run_alembic(database_url, "upgrade", "head")
        with SmsGateway().running() as sms, portico_processes(root) as processes:
            port, data_dir = free_port(), root / "data"
            env = _settings(database_url, data_dir, port, sms)
            if mode == "embedded":
                yield _started(mode, env, processes.start("serve", ["serve"], env), [], sms)
                return
            with _service_settings(redis_url) as service:
                env = {**env, **service}
                api = processes.start("serve", ["serve"], env)
                worker = processes.start("worker", ["worker"], env)
                worker.wait_for_log("worker started: relay, consumers, jobs", within=30)
                yield _started(mode, env, api, [worker], sms)


def _started(
    mode: Mode, env: dict[str, str], api: Process, others: list[Process], sms: SmsGateway
) -> Stack:
    base_url = f"http://127.0.0.1:{env['APP_PORT']}"
    wait_until_live(api, base_url)
    return Stack(
        mode=mode,
        base_url=base_url,
        env=env,
        database_url=env["DATABASE_URL"],
        data_dir=Path(env["DATA_DIR"]),
        workdir=api.log_path.parent,
        sms=sms,
        processes=[api, *others],
    )
