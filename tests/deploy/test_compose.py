"""deploy/compose.yaml is true: its services, run as it says, make a working Portico.

Containers cannot run on this project's CI machines, so the test runs each Portico
service's own compose `command`, with that service's compose `environment`, as a local
`portico` process. The compose host names stand for this machine's servers: `postgres` for
the test's PostgreSQL (a fresh schema, so `migrate` has real work), `redis` for the test's
Redis, `kafka` for a Kafka-protocol mock broker and `mailpit` for an SMTP server in the
test. Only those addresses, DATA_DIR and each API's port are changed, and the test checks
that nothing else was. Then: `migrate` exits 0; with as many APIs as the file's replicas,
one worker and one scheduler, every API is ready, an article published through one API
reaches a follower's socket on another and its email goes out through the worker, and
every process exits 0 on SIGTERM.

The file itself is checked too: one image for every Portico service, only real setting
names, healthchecks on real routes, and docker-compose accepting it with nothing set.
"""

import logging
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest
import redis
import yaml

from entrypoints.ioc.delivery import is_loopback
from tests.support.kafka_cluster import kafka_mock_cluster
from tests.support.network import free_port
from tests.support.notifications import (
    Inbox,
    Process,
    Processes,
    follow,
    next_notification,
    open_socket,
    portico_processes,
    publish,
    register,
    sent_to,
    smtp_server,
    wait_until_live,
)
from tests.support.postgres import isolated_schema, table_names
from tests.support.server import PORTICO, clean_env, run_portico

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"
DOCKER_COMPOSE = Path("/usr/bin/docker-compose")

PORTICO_SERVICES = ("migrate", "api", "worker", "scheduler")
PORTICO_IMAGE = "portico:0.1.0"

REWRITTEN = frozenset(
    {"DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS", "SMTP_HOST", "SMTP_PORT", "DATA_DIR"}
)
"""The only compose variables whose values the local processes get changed."""

LIVE_WITHIN_SECONDS = 2.0
RELAY_IN_API = "outbox relay running in this process"
_TROUBLE = re.compile(r"\bERROR\b|\bCRITICAL\b|Traceback")
_INTERPOLATION = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_]\w*):-(?P<default>[^}]*)\}|\$")
_HEALTHCHECK_URL = re.compile(r"http://127\.0\.0\.1:(?P<port>\d+)(?P<path>/[\w/.-]*)")


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Compose's interpolation, in the forms the file uses: `${NAME:-default}` and `$$`.

    As in Compose, an empty variable counts as unset. Any other use of `$` is an error,
    so a form this function does not know cannot pass unnoticed.
    """

    def replace(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        if match["name"] is None:
            raise ValueError(f"unsupported interpolation in {text!r}")
        return variables.get(match["name"]) or match["default"]

    return _INTERPOLATION.sub(replace, text)


def interpolated(node: Any, variables: Mapping[str, str]) -> Any:
    """Every string in a loaded YAML tree, interpolated."""
    if isinstance(node, str):
        return interpolate(node, variables)
    if isinstance(node, list):
        return [interpolated(item, variables) for item in node]
    if isinstance(node, dict):
        return {key: interpolated(value, variables) for key, value in node.items()}
    return node


def load_compose() -> dict[str, Any]:
    """The compose file as Compose reads it with none of its variables set: the defaults."""
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    document: dict[str, Any] = interpolated(loaded, {})
    return document


def service_environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's `environment` mapping, with numbers as strings, as Compose passes them."""
    environment: dict[str, str] = {}
    for name, value in service.get("environment", {}).items():
        assert isinstance(value, str | int | float), f"{name}: {value!r} is not a plain value"
        assert not isinstance(value, bool), f"{name}: quote the boolean {value!r}"
        environment[name] = str(value)
    return environment


def replicas(service: Mapping[str, Any]) -> int:
    return int(service.get("deploy", {}).get("replicas", 1))


def setting_names() -> set[str]:
    """The first column of `portico config reference`: every variable Portico reads."""
    completed = subprocess.run(
        [PORTICO, "config", "reference"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    names = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", completed.stdout, re.MULTILINE))
    assert len(names) > 50, completed.stdout
    return names


@dataclass(frozen=True)
class Healthcheck:
    """A Portico service's compose healthcheck: `python -c CODE`, fetching one URL."""

    code: str
    port: int
    path: str

    @classmethod
    def of(cls, service: Mapping[str, Any]) -> "Healthcheck":
        command = service["healthcheck"]["test"]
        assert command[:3] == ["CMD", "python", "-c"], command
        assert len(command) == 4, command
        urls = list(_HEALTHCHECK_URL.finditer(command[3]))
        assert len(urls) == 1, f"expected one http://127.0.0.1 URL in {command[3]!r}"
        return cls(code=command[3], port=int(urls[0]["port"]), path=urls[0]["path"])

    def run_against(self, port: int) -> subprocess.CompletedProcess[str]:
        """Run the check with this interpreter (the image's `python`), aimed at `port`."""
        code = self.code.replace(f"127.0.0.1:{self.port}/", f"127.0.0.1:{port}/")
        return subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
        )


def with_port(command: list[str], port: int) -> list[str]:
    """`command` with the value of its one `--port` option replaced."""
    assert command.count("--port") == 1, command
    at = command.index("--port") + 1
    return [*command[:at], str(port), *command[at + 1 :]]


@dataclass(frozen=True)
class ThisMachine:
    """Where this test's servers listen, standing in for the compose file's services."""

    database_url: str
    redis_url: str
    kafka_bootstrap: str
    smtp_port: int
    data_dir: Path


def on_this_machine(environment: Mapping[str, str], machine: ThisMachine) -> dict[str, str]:
    """The service's environment with each compose service address replaced by this machine's."""
    local = dict(environment)
    database = urlsplit(environment["DATABASE_URL"])
    assert (database.hostname, database.port) == ("postgres", 5432), environment["DATABASE_URL"]
    local["DATABASE_URL"] = machine.database_url
    cache = urlsplit(environment["REDIS_URL"])
    assert (cache.hostname, cache.port) == ("redis", 6379), environment["REDIS_URL"]
    local["REDIS_URL"] = machine.redis_url
    assert environment["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    local["KAFKA_BOOTSTRAP_SERVERS"] = machine.kafka_bootstrap
    assert (environment["SMTP_HOST"], environment["SMTP_PORT"]) == ("mailpit", "1025")
    local["SMTP_HOST"] = "127.0.0.1"
    local["SMTP_PORT"] = str(machine.smtp_port)
    local["DATA_DIR"] = str(machine.data_dir)
    return local


def test_interpolation_takes_a_set_variable_else_the_default_and_rejects_other_forms() -> None:
    assert interpolate("a${X:-dflt}b", {}) == "adfltb"
    assert interpolate("a${X:-dflt}b", {"X": "set"}) == "asetb"
    assert interpolate("a${X:-dflt}b", {"X": ""}) == "adfltb"
    assert interpolate("cost $$5", {}) == "cost $5"
    for unsupported in ("$X", "${X}", "${X:?required}", "${X-dflt}"):
        with pytest.raises(ValueError, match="unsupported interpolation"):
            interpolate(unsupported, {"X": "set"})


def test_docker_compose_accepts_the_file_with_no_variable_set(tmp_path: Path) -> None:
    if not DOCKER_COMPOSE.exists():
        pytest.fail(
            f"{DOCKER_COMPOSE} is missing: install Debian's docker-compose package "
            "(apt-get install docker-compose) to check deploy/compose.yaml"
        )
    completed = subprocess.run(
        [str(DOCKER_COMPOSE), "-f", str(COMPOSE_FILE), "config", "-q"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr


def test_every_portico_service_runs_the_one_image_built_from_the_dockerfile() -> None:
    services = load_compose()["services"]
    built = {name for name, service in services.items() if "build" in service}
    assert built == set(PORTICO_SERVICES)
    for name in PORTICO_SERVICES:
        service = services[name]
        assert service["image"] == PORTICO_IMAGE, name
        context = (COMPOSE_FILE.parent / service["build"]["context"]).resolve()
        assert context == ROOT, name
        assert service["build"]["dockerfile"] == "deploy/Dockerfile", name
        assert service_environment(service) == service_environment(services["api"]), name
    others = [service["image"] for name, service in services.items() if name not in built]
    assert all(not image.startswith("portico") for image in others), others


def test_every_variable_of_the_portico_services_is_a_real_setting() -> None:
    services = load_compose()["services"]
    known = setting_names()
    for name in PORTICO_SERVICES:
        unknown = set(service_environment(services[name])) - known
        assert not unknown, f"{name} sets variables Portico does not read: {sorted(unknown)}"


def test_the_portico_services_write_only_to_tmp_and_the_data_volume() -> None:
    document = load_compose()
    for name in PORTICO_SERVICES:
        service = document["services"][name]
        assert service["read_only"] is True, name
        assert "/tmp" in service["tmpfs"], name  # noqa: S108 - the container's tmpfs
        data_dir = service_environment(service)["DATA_DIR"]
        volumes = {volume.split(":")[1]: volume.split(":")[0] for volume in service["volumes"]}
        assert volumes.get(data_dir) in document["volumes"], f"{name}: {data_dir} is no volume"


def test_every_address_names_a_service_of_the_file_where_it_listens() -> None:
    services = load_compose()["services"]
    environment = service_environment(services["api"])
    database = urlsplit(environment["DATABASE_URL"])
    postgres = service_environment(services["postgres"])
    assert database.hostname in services
    assert services[database.hostname]["image"].startswith("postgres:")
    assert unquote(database.username or "") == postgres["POSTGRES_USER"]
    assert unquote(database.password or "") == postgres["POSTGRES_PASSWORD"]
    assert database.path == f"/{postgres['POSTGRES_DB']}"
    cache = urlsplit(environment["REDIS_URL"])
    assert cache.hostname in services
    assert services[cache.hostname]["image"].startswith("redis:")
    kafka_host, _, kafka_port = environment["KAFKA_BOOTSTRAP_SERVERS"].partition(":")
    broker = service_environment(services[kafka_host])
    assert f"PLAINTEXT://{kafka_host}:{kafka_port}" in broker["KAFKA_ADVERTISED_LISTENERS"]
    assert f"PLAINTEXT://:{kafka_port}" in broker["KAFKA_LISTENERS"]
    mail_host = environment["SMTP_HOST"]
    mail = services[mail_host]
    assert mail["image"].startswith("axllent/mailpit:")
    assert environment["SMTP_PORT"] in mail["expose"]
    assert not any(name.startswith("MP_SMTP_TLS") for name in service_environment(mail))
    tls = environment.get("SMTP_TLS") or ("none" if is_loopback(mail_host) else "starttls")
    assert tls == "none", "Mailpit speaks plain SMTP here: Portico must not ask for TLS"


def test_one_scheduler_two_api_replicas_and_no_host_port_they_would_share() -> None:
    services = load_compose()["services"]
    assert replicas(services["scheduler"]) == 1
    assert replicas(services["api"]) == 2
    for name in ("migrate", "worker", "scheduler"):
        assert "ports" not in services[name], f"{name} publishes a port"
    for published in services["api"]["ports"]:
        assert isinstance(published, str), published
        host_port = published.split(":")[-2] if ":" in published else ""
        assert host_port == "", f"{published}: replicas cannot share a fixed host port"


def test_only_the_api_keeps_the_images_http_healthcheck(project_root: Path) -> None:
    """The image's HEALTHCHECK fetches /health/live, which only `serve` answers."""
    dockerfile = (project_root / "deploy" / "Dockerfile").read_text()
    assert "/health/live" in dockerfile.split("HEALTHCHECK", 1)[1].split("\n\n", 1)[0]
    services = load_compose()["services"]
    assert services["api"]["healthcheck"].get("disable") is not True
    for name in ("migrate", "worker", "scheduler"):
        assert services[name].get("healthcheck") == {"disable": True}, f"{name} serves no HTTP"


def test_migrate_runs_once_and_before_every_service_that_needs_the_schema() -> None:
    services = load_compose()["services"]
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    for name in ("api", "worker", "scheduler"):
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy", name
        assert services[name]["restart"] != "no", f"{name} would stay down after a crash"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def unmigrated_url(postgres_url: str) -> Iterator[str]:
    """A fresh, empty schema of its own, for `migrate` to create the tables in."""
    with isolated_schema(postgres_url, prefix="compose") as url:
        yield url


@pytest.fixture
def machine(
    unmigrated_url: str, redis_url: str, smtp: tuple[Inbox, int], tmp_path: Path
) -> Iterator[ThisMachine]:
    # The mock broker logs every request at DEBUG: keep that out of pytest's failure reports.
    mock_log = logging.getLogger("tests.kafka_mock")
    mock_log.propagate = False
    try:
        with kafka_mock_cluster() as bootstrap:
            yield ThisMachine(
                database_url=unmigrated_url,
                redis_url=redis_url,
                kafka_bootstrap=bootstrap,
                smtp_port=smtp[1],
                data_dir=tmp_path / "data",
            )
    finally:
        mock_log.propagate = True


@pytest.fixture
def isolation(redis_url: str) -> Iterator[dict[str, str]]:
    """The settings this test adds, which the compose file leaves at their defaults.

    Other tests share this Redis and 127.0.0.1: a job stream of this test's own keeps
    another worker from taking its jobs, and a higher per-IP limit keeps their sign-ups
    from using up its own. Its stream is deleted afterwards.
    """
    stream = f"compose{uuid.uuid4().hex[:10]}:jobs"
    yield {"JOBS_STREAM": stream, "RATE_LIMIT_AUTH_PER_IP": "1000"}
    client = redis.Redis.from_url(redis_url)
    try:
        client.delete(stream)
    finally:
        client.close()


def process_environment(
    compose_environment: Mapping[str, str], machine: ThisMachine, isolation: Mapping[str, str]
) -> dict[str, str]:
    """What the local process gets; only the declared rewrites and additions differ."""
    assert not set(isolation) & set(compose_environment), "the test would override the file"
    environment = {
        **clean_env(),
        **isolation,
        **on_this_machine(compose_environment, machine),
    }
    changed = {
        name for name, value in compose_environment.items() if environment.get(name) != value
    }
    assert changed == REWRITTEN
    added = set(environment) - set(compose_environment)
    assert added == (set(clean_env()) | set(isolation)) - set(compose_environment)
    return environment


def wait_until_ready(base_url: str, within: float = 15) -> httpx.Response:
    """The first 200 from /health/ready, or the last answer once `within` has passed."""
    deadline = time.monotonic() + within
    while True:
        response = httpx.get(f"{base_url}/health/ready", timeout=5)
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def assert_no_trouble(processes: Processes) -> None:
    for process in processes.started:
        trouble = [line for line in process.log().splitlines() if _TROUBLE.search(line)]
        assert not trouble, f"{process.name} logged:\n" + "\n".join(trouble)


def stop_with_sigterm(processes: list[Process], within: float = 20) -> dict[str, int | None]:
    """SIGTERM each at once, then each one's exit status (None: still running)."""
    for process in processes:
        assert process.running(), f"{process.name} exited early:\n{process.log()}"
        process.popen.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + within
    codes: dict[str, int | None] = {}
    for process in processes:
        try:
            codes[process.name] = process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            codes[process.name] = None
    return codes


@pytest.mark.e2e
def test_the_services_run_as_the_file_says_and_a_new_article_reaches_a_follower(
    machine: ThisMachine,
    isolation: dict[str, str],
    smtp: tuple[Inbox, int],
    tmp_path: Path,
) -> None:
    inbox, _ = smtp
    services = load_compose()["services"]
    env = {
        name: process_environment(service_environment(services[name]), machine, isolation)
        for name in PORTICO_SERVICES
    }

    migrated = run_portico(*services["migrate"]["command"], env=env["migrate"], cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert {"users", "articles", "outbox"} <= table_names(machine.database_url)

    healthcheck = Healthcheck.of(services["api"])
    api_command: list[str] = services["api"]["command"]
    assert api_command[api_command.index("--port") + 1] == str(healthcheck.port)
    with portico_processes(tmp_path) as processes:
        apis: list[tuple[Process, str]] = []
        for index in range(replicas(services["api"])):
            port = free_port()
            command = with_port(api_command, port)
            assert [a for a, b in zip(command, api_command, strict=True) if a != b] == [str(port)]
            process = processes.start(f"api-{index + 1}", command, env["api"])
            apis.append((process, f"http://127.0.0.1:{port}"))
        worker = processes.start("worker", services["worker"]["command"], env["worker"])
        scheduler = processes.start("scheduler", services["scheduler"]["command"], env["scheduler"])
        for process, url in apis:
            wait_until_live(process, url)
        worker.wait_for_log("worker started: relay, consumers, jobs", within=30)
        scheduler.wait_for_log("enqueued ", within=30)

        for process, url in apis:
            ready = wait_until_ready(url)
            assert ready.status_code == 200, f"{process.name}: {ready.text}"
            routes = httpx.get(f"{url}/schema/openapi.json", timeout=5).json()["paths"]
            assert healthcheck.path in routes, f"{healthcheck.path} is no route"
            checked = healthcheck.run_against(int(urlsplit(url).port or 0))
            assert checked.returncode == 0, f"the api healthcheck failed:\n{checked.stderr}"

        (_, first_url), (_, last_url) = apis[0], apis[-1]
        with httpx.Client(base_url=first_url, timeout=10) as api:
            author = register(api, "a")
            reader = register(api, "b")
            follow(api, reader, author)
            inbox.wait_for(sent_to(author.email, f"{reader.username} started following"), within=30)
            with open_socket(last_url, reader) as socket:
                title = f"Compose notes {uuid.uuid4().hex[:6]}"
                article = publish(api, author, title)
                live = next_notification(
                    socket, lambda n: n["kind"] == "new_article", within=LIVE_WITHIN_SECONDS
                )
        assert live["data"]["article_slug"] == article["slug"]
        inbox.wait_for(sent_to(reader.email, f'{author.username} published "{title}"'), within=10)

        worker.wait_for_log("purged ", within=10)
        assert scheduler.running(), f"the scheduler exited:\n{scheduler.log()}"
        for process, _ in apis:
            assert RELAY_IN_API not in process.log(), f"{process.name} relays the outbox"
        codes = stop_with_sigterm([*(process for process, _ in apis), worker, scheduler])
        assert codes == dict.fromkeys(codes, 0), codes
        assert_no_trouble(processes)
