"""`GET /metrics` from real servers under traffic, read with Prometheus' own text parser.

Service mode (PostgreSQL, Redis jobs, the Kafka-protocol mock broker, `portico worker`
relaying and consuming), behind the token: every metric docs/observability.md names is
scraped from the process it says, with the labels it says, and the counts match the
requests sent. Then `portico serve --workers 2` on a port of its own: the two processes'
counts add up, whichever of them answers the scrape.
"""

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.support.kafka_cluster import kafka_mock_cluster
from tests.support.network import free_port
from tests.support.notifications import Process, portico_processes, wait_until_live
from tests.support.server import clean_env

pytestmark = pytest.mark.e2e

TOKEN = "metrics-scraper-token-of-at-least-32-bytes"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
JWT_SECRET = "metrics-test-signing-secret-of-at-least-32-bytes"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "observability.md"
_ROW = re.compile(r"^\| `(portico_\w+)` \| (\w+) \| ([^|]*) \| ([^|]*) \|")


@dataclass(frozen=True)
class Documented:
    """One row of the docs' table of metrics."""

    name: str
    kind: str
    labels: frozenset[str]
    sources: frozenset[str]


def documented_metrics() -> list[Documented]:
    rows = []
    for line in DOCS.read_text().splitlines():
        match = _ROW.match(line)
        if match:
            name, kind, labels, sources = match.groups()
            rows.append(
                Documented(
                    name=name,
                    kind=kind,
                    labels=frozenset(re.findall(r"`(\w+)`", labels)),
                    sources=frozenset(part.strip() for part in sources.split(",")),
                )
            )
    return rows


def families(text: str) -> dict[str, Metric]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def value(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def missing_or_mislabelled(text: str, source: str) -> list[str]:
    """The documented metrics of `source` the scrape lacks, or shows with other labels."""
    found = families(text)
    wrong = []
    for metric in documented_metrics():
        if source not in metric.sources:
            continue
        family = found.get(metric.name.removesuffix("_total"))
        if family is None or not family.samples:
            wrong.append(f"{metric.name}: not scraped")
            continue
        if family.type != metric.kind:
            wrong.append(f"{metric.name}: a {family.type}, documented as a {metric.kind}")
        labels = {frozenset(s.labels) - {"le"} for s in family.samples}
        if labels != {metric.labels}:
            wrong.append(f"{metric.name}: labels {sorted(map(sorted, labels))}")
    return wrong


@pytest.fixture
def service_env(migrated_url: str, redis_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    run = f"m{uuid.uuid4().hex[:10]}"
    mock_log = logging.getLogger("tests.kafka_mock")
    mock_log.propagate = False
    try:
        with kafka_mock_cluster() as bootstrap:
            yield clean_env(
                DATABASE_URL=migrated_url,
                DATA_DIR=str(tmp_path / "data"),
                JWT_SECRET=JWT_SECRET,
                APP_NAME=run,
                REDIS_URL=redis_url,
                KAFKA_BOOTSTRAP_SERVERS=bootstrap,
                KAFKA_TOPIC_PREFIX=f"{run}.",
                KAFKA_CONSUMER_GROUP=run,
                JOBS_QUEUE="redis",
                JOBS_STREAM=f"{run}:jobs",
                REALTIME_CHANNEL_PREFIX=f"{run}:rt:",
                OUTBOX_RELAY_IN_API="false",
                METRICS_MODE="token",
                METRICS_TOKEN=TOKEN,
                METRICS_WORKER_PORT=str(free_port()),
                METRICS_REFRESH_SECONDS="1",
                APP_MAX_CONCURRENT_REQUESTS="1",
                RATE_LIMIT_REGISTRATIONS_PER_IP="2",
                TRUSTED_PROXIES="127.0.0.1",
            )
    finally:
        mock_log.propagate = True
        client = redis.Redis.from_url(redis_url)
        try:
            client.delete(f"{run}:jobs")
        finally:
            client.close()


def register(api: httpx.Client, name: str) -> httpx.Response:
    user = {"username": name, "email": f"{name}@metrics.test", "password": "password123"}
    return api.post("/api/users", json={"user": user})


def log_in(api: httpx.Client, name: str, password: str) -> int:
    user = {"email": f"{name}@metrics.test", "password": password}
    return api.post("/api/users/login", json={"user": user}).status_code


async def signed_in_lists(base: str, token: str, count: int) -> list[int]:
    """`count` signed-in lists at once, each on its own connection (the limit admits one)."""

    async def one() -> int:
        async with httpx.AsyncClient(base_url=base, timeout=20) as client:
            response = await client.get(
                "/api/articles?limit=20", headers={"Authorization": f"Token {token}"}
            )
            return response.status_code

    return list(await asyncio.gather(*(one() for _ in range(count))))


def scrape_worker(port: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}/metrics", headers=headers, timeout=10)


def wait_for_worker(port: int, worker: Process, ready: Any, within: float = 30) -> str:
    """Scrape the worker until `ready(text)` holds; its last scrape."""
    deadline = time.monotonic() + within
    text = ""
    while time.monotonic() < deadline:
        if not worker.running():
            raise AssertionError(f"the worker exited:\n{worker.log()}")
        try:
            response = scrape_worker(port, BEARER)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        text = response.text
        if response.status_code == 200 and ready(text):
            return text
        time.sleep(0.2)
    raise AssertionError(f"the worker's metrics never got there:\n{text}\n{worker.log()}")


def send_traffic(base: str, run: str) -> str:
    """Sign-ups (the third over the limit), sign-ins, lists, strays; the scrape after them,
    taken while an SSE stream is open."""
    a, b = uuid.uuid4().hex[:4], uuid.uuid4().hex[:4]
    client = {"X-Forwarded-For": f"2001:db8:{a}:{b}::1"}  # a rate-limit budget of its own
    with httpx.Client(base_url=base, timeout=20, headers=client) as api:
        assert register(api, f"{run}a").status_code == 201
        assert register(api, f"{run}b").status_code == 201
        assert register(api, f"{run}c").status_code == 429
        assert log_in(api, f"{run}a", "password123") == 200
        assert [log_in(api, f"{run}a", "wrong-password") for _ in range(2)] == [401, 401]
        token = api.post(
            "/api/users/login",
            json={"user": {"email": f"{run}b@metrics.test", "password": "password123"}},
        ).json()["user"]["token"]
        assert [api.get("/api/articles?limit=3").status_code for _ in range(5)] == [200] * 5
        assert [api.get("/no/such/route").status_code for _ in range(2)] == [404, 404]
        assert asyncio.run(signed_in_lists(base, token, 8)) == [200] * 8
        assert api.get("/metrics").status_code == 401
        refused = api.get("/metrics", headers={"Authorization": "Bearer " + "x" * 40})
        assert refused.status_code == 401
        assert refused.json() == {"errors": {"token": ["is missing or wrong"]}}
        stream_headers = {"Authorization": f"Token {token}"}
        with api.stream("GET", "/api/notifications/stream", headers=stream_headers) as live:
            assert live.status_code == 200
            lines = live.iter_lines()  # held: dropping the iterator would close the stream
            assert next(lines) == ": connected"
            scraped = api.get("/metrics", headers=BEARER)
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    return scraped.text


def assert_the_counts_match(text: str) -> None:
    def requests(route: str, method: str, status: int) -> float:
        labels = {"route": route, "method": method, "status": str(status)}
        return value(text, "portico_http_requests_total", **labels)

    assert requests("/api/users", "POST", 201) == 2
    assert requests("/api/users", "POST", 429) == 1
    assert requests("/api/users/login", "POST", 200) == 2
    assert requests("/api/users/login", "POST", 401) == 2
    assert requests("/api/articles", "GET", 200) == 13
    assert requests("unmatched", "GET", 404) == 2
    assert requests("/metrics", "GET", 401) == 2
    count = "portico_http_request_duration_seconds_count"
    assert value(text, count, route="/api/articles", method="GET") == 13
    assert value(text, "portico_http_requests_in_flight") == 2, "the stream and the scrape"
    assert value(text, "portico_http_queue_wait_seconds_count") >= 1
    assert value(text, "portico_logins_total", outcome="success") == 2
    assert value(text, "portico_logins_total", outcome="failure") == 2
    assert value(text, "portico_rate_limited_total", rule="registration") == 1
    assert value(text, "portico_live_connections", channel="sse") == 1
    assert value(text, "portico_cache_lookups_total", cache="content", result="hit") >= 3
    assert value(text, "portico_db_pool_capacity") > 0
    assert not [line for line in text.splitlines() if "/no/such/route" in line]


def worker_settled(text: str) -> bool:
    """The worker relayed the sign-ups' events, ran their emails' jobs, and consumed."""
    jobs = "portico_jobs_total"
    return (
        value(text, "portico_outbox_relayed_total", outcome="published") >= 2
        and any(
            value(text, jobs, task="send_templated_email", outcome=outcome)
            for outcome in ("succeeded", "retried", "failed")
        )
        and "portico_consumer_lag{" in text
    )


def test_every_documented_metric_is_scraped_and_the_counts_match_the_traffic(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    worker_port = int(service_env["METRICS_WORKER_PORT"])
    with portico_processes(tmp_path) as processes:
        api = processes.start("serve", ["serve"], {**service_env, "APP_PORT": str(port)})
        worker = processes.start("worker", ["worker"], service_env)
        base = f"http://127.0.0.1:{port}"
        wait_until_live(api, base)
        text = send_traffic(base, service_env["APP_NAME"])
        assert_the_counts_match(text)
        assert missing_or_mislabelled(text, "serve") == []

        assert scrape_worker(worker_port).status_code == 401
        assert scrape_worker(worker_port).json() == {"errors": {"token": ["is missing or wrong"]}}
        worker_text = wait_for_worker(worker_port, worker, worker_settled)
        assert missing_or_mislabelled(worker_text, "worker") == []
        assert value(worker_text, "portico_jobs_running", task="send_templated_email") == 0
        processes.stop_all()
        assert_clean_exit(api, worker)


def assert_clean_exit(*stopped: Process) -> None:
    for process in stopped:
        assert process.popen.returncode == 0, process.log()
        assert "Traceback" not in process.log(), process.log()


def test_two_processes_counts_add_up_whichever_answers_on_the_metrics_port(
    migrated_url: str, tmp_path: Path
) -> None:
    port, metrics_port = free_port(), free_port()
    directory = tmp_path / "counts"
    env = clean_env(
        DATABASE_URL=migrated_url,
        DATA_DIR=str(tmp_path / "data"),
        JWT_SECRET=JWT_SECRET,
        METRICS_MODE="port",
        METRICS_PORT=str(metrics_port),
        METRICS_MULTIPROCESS_DIR=str(directory),
    )
    sent = 60
    with portico_processes(tmp_path) as processes:
        server = processes.start("serve", ["serve", "--workers", "2", "--port", str(port)], env)
        base = f"http://127.0.0.1:{port}"
        wait_until_live(server, base)
        assert asyncio.run(concurrent_tags(base, sent)) == [200] * sent
        assert httpx.get(f"{base}/metrics", timeout=10).status_code == 404
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        tags = {"route": "/api/tags", "method": "GET", "status": "200"}
        answers = {
            value(httpx.get(metrics_url, timeout=10).text, "portico_http_requests_total", **tags)
            for _ in range(6)
        }
        assert answers == {sent}, "every process answers for both"
        other = httpx.get(f"http://127.0.0.1:{metrics_port}/other", timeout=10)
        assert other.status_code == 404
        assert other.json() == {"errors": {"route": ["not found"]}}
        per_process = counted_per_process(directory, tags)
        assert len(per_process) == 2, per_process
        assert all(count > 0 for count in per_process.values()), per_process
        assert sum(per_process.values()) == sent


async def concurrent_tags(base: str, count: int) -> list[int]:
    """`count` requests, each on a connection of its own, all at once."""

    async def one() -> int:
        async with httpx.AsyncClient(base_url=base, timeout=20) as client:
            return (await client.get("/api/tags")).status_code

    return list(await asyncio.gather(*(one() for _ in range(count))))


def counted_per_process(directory: Path, labels: dict[str, str]) -> dict[str, float]:
    """Each process's own count of the request series, read from its file."""
    counted: dict[str, float] = {}
    for path in sorted(directory.glob("counter_*.db")):
        for metric in MultiProcessCollector.merge([str(path)], accumulate=True):  # type: ignore[no-untyped-call]
            for sample in metric.samples:
                if sample.name == "portico_http_requests_total" and sample.labels == labels:
                    counted[path.stem] = counted.get(path.stem, 0) + sample.value
    return counted
