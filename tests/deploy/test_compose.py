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

How the file is read and how a service becomes a local process (the interpolation, the
address rewrites, the healthcheck, the stop) is in tests/support/compose.py.
"""

import logging
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import pytest
import redis

from entrypoints.ioc.delivery import is_loopback
from tests.support.compose import (
    COMPOSE_FILE,
    EXAMPLE_ENV_FILE,
    Healthcheck,
    ThisMachine,
    assert_no_trouble,
    interpolate,
    load_compose,
    process_environment,
    replicas,
    service_environment,
    setting_names,
    stop_with_sigterm,
    wait_until_ready,
    with_port,
)
from tests.support.deploy import ROOT
from tests.support.kafka_cluster import kafka_mock_cluster
from tests.support.network import free_port
from tests.support.notifications import (
    Inbox,
    Process,
    follow,
    next_notification,
    open_socket,
    portico_processes,
    publish,
    register,
    sent_to,
    smtp_server,
    verify_email,
    wait_until_live,
)
from tests.support.postgres import isolated_schema, table_names
from tests.support.server import PORTICO, clean_env, run_portico

DOCKER_COMPOSE = Path("/usr/bin/docker-compose")

PORTICO_SERVICES = ("migrate", "api", "worker", "scheduler")
PORTICO_IMAGE = "portico:0.1.0"

LIVE_WITHIN_SECONDS = 2.0
DEPLOYED_SECRETS = {
    "JWT_SECRET": "compose-topology-test-secret-of-at-least-32-bytes",
    "AUDIT_SIGNING_KEY": "compose-topology-test-audit-key-of-at-least-32-bytes",
    "POSTGRES_PASSWORD": "compose-topology-test-password",
    "APP_PUBLIC_URL": "https://portico.example.com",
}
"""What an operator puts in deploy/.env; the placeholders of deploy/.env.example are refused."""
RELAY_IN_API = "outbox relay running in this process"


def test_interpolation_takes_a_set_variable_else_the_default_and_rejects_other_forms() -> None:
    assert interpolate("a${X:-dflt}b", {}) == "adfltb"
    assert interpolate("a${X:-dflt}b", {"X": "set"}) == "asetb"
    assert interpolate("a${X:-dflt}b", {"X": ""}) == "adfltb"
    assert interpolate("cost $$5", {}) == "cost $5"
    assert interpolate("a${X:?give X}b", {"X": "set"}) == "asetb"
    for unset in ({}, {"X": ""}):
        with pytest.raises(ValueError, match="X is required: give X"):
            interpolate("a${X:?give X}b", unset)
    for unsupported in ("$X", "${X}", "${X?required}", "${X-dflt}"):
        with pytest.raises(ValueError, match="unsupported interpolation"):
            interpolate(unsupported, {"X": "set"})


def test_docker_compose_wants_the_secrets_and_accepts_the_example_env_file(
    tmp_path: Path,
) -> None:
    """No secret has a default in the file: a public one would let anyone sign tokens."""
    if not DOCKER_COMPOSE.exists():
        pytest.fail(
            f"{DOCKER_COMPOSE} is missing: install Debian's docker-compose package "
            "(apt-get install docker-compose) to check deploy/compose.yaml"
        )

    def config(*options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(DOCKER_COMPOSE), *options, "-f", str(COMPOSE_FILE), "config", "-q"],
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    bare = config()
    assert bare.returncode != 0
    assert "set JWT_SECRET in deploy/.env" in bare.stderr
    without_audit_key = {k: v for k, v in DEPLOYED_SECRETS.items() if k != "AUDIT_SIGNING_KEY"}
    env_file = tmp_path / "without-audit-key.env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in without_audit_key.items()))
    no_audit_key = config("--env-file", str(env_file))
    assert no_audit_key.returncode != 0
    assert "set AUDIT_SIGNING_KEY in deploy/.env" in no_audit_key.stderr
    with_example = config("--env-file", str(EXAMPLE_ENV_FILE))
    assert with_example.returncode == 0, with_example.stderr


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
    """An SMTP server on this machine in place of the file's `mailpit`: its inbox and port."""
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
    """This machine's servers, in place of the file's postgres, redis, kafka and mailpit."""
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
    another worker from taking its jobs, and higher per-IP limits keep their sign-ups
    from using up its own. Its stream is deleted afterwards.
    """
    stream = f"compose{uuid.uuid4().hex[:10]}:jobs"
    yield {
        "JOBS_STREAM": stream,
        "RATE_LIMIT_AUTH_PER_IP": "1000",
        "RATE_LIMIT_REGISTRATIONS_PER_IP": "1000",
    }
    client = redis.Redis.from_url(redis_url)
    try:
        client.delete(stream)
    finally:
        client.close()


@pytest.mark.e2e
def test_the_services_run_as_the_file_says_and_a_new_article_reaches_a_follower(
    machine: ThisMachine,
    isolation: dict[str, str],
    smtp: tuple[Inbox, int],
    tmp_path: Path,
) -> None:
    inbox, _ = smtp
    services = load_compose(DEPLOYED_SECRETS)["services"]
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
            verify_email(api, inbox, author)  # notification mail goes only to verified addresses
            verify_email(api, inbox, reader)
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


@pytest.mark.parametrize(
    ("filled", "refused"),
    [({}, "JWT_SECRET"), ({"JWT_SECRET": DEPLOYED_SECRETS["JWT_SECRET"]}, "AUDIT_SIGNING_KEY")],
)
def test_portico_refuses_the_example_placeholders(
    tmp_path: Path, filled: dict[str, str], refused: str
) -> None:
    """Filling deploy/.env is not optional: each placeholder secret stops every service."""
    environment = service_environment(load_compose()["services"]["api"])
    checked = subprocess.run(
        [PORTICO, "config", "check"],
        env=clean_env(**{**environment, **filled}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 2, checked.stdout
    (line,) = checked.stderr.strip().splitlines()
    assert line.startswith(f"portico: configuration error: {refused}: "), line
