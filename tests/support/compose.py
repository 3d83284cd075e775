"""deploy/compose.yaml as tests/deploy/test_compose.py reads it, and runs it on this machine.

Reading: the file is loaded with Compose's interpolation, in the forms it uses and no
other, with none of its variables set, so that the tests see what `docker compose up` would
see by default. Running: containers cannot run on this project's CI machines, so a
service's `command` and `environment` are run as a local `portico` process, with the
compose host names standing for this machine's servers. The only changes from the file are
declared here (REWRITTEN, and each API's `--port`), and the helpers that make them assert
that nothing else changed.
"""

import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

from tests.support.deploy import ROOT
from tests.support.notifications import Process, Processes
from tests.support.server import PORTICO, clean_env

COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"
EXAMPLE_ENV_FILE = ROOT / "deploy" / ".env.example"

REWRITTEN = frozenset(
    {"DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS", "SMTP_HOST", "SMTP_PORT", "DATA_DIR"}
)
"""The only compose variables whose values the local processes get changed."""

_TROUBLE = re.compile(r"\bERROR\b|\bCRITICAL\b|Traceback")
_INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_]\w*)(?::-(?P<default>[^}]*)|:\?(?P<error>[^}]*))\}|\$"
)
_HEALTHCHECK_URL = re.compile(r"http://127\.0\.0\.1:(?P<port>\d+)(?P<path>/[\w/.-]*)")


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Compose's interpolation, in the forms the file uses: `${NAME:-default}`,
    `${NAME:?error}` (required) and `$$`.

    As in Compose, an empty variable counts as unset. Any other use of `$` is an error,
    so a form this function does not know cannot pass unnoticed.
    """

    def replace(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        if match["name"] is None:
            raise ValueError(f"unsupported interpolation in {text!r}")
        value = variables.get(match["name"])
        if match["error"] is not None and not value:
            raise ValueError(f"{match['name']} is required: {match['error']}")
        return value or match["default"]

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


def example_variables() -> dict[str, str]:
    """The variables deploy/.env.example sets, as Compose reads that file."""
    variables: dict[str, str] = {}
    for line in EXAMPLE_ENV_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            variables[name.strip()] = value.strip()
    return variables


def load_compose(variables: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The compose file as Compose reads it with these variables (deploy/.env.example's)."""
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    given = example_variables() if variables is None else variables
    document: dict[str, Any] = interpolated(loaded, given)
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
    """How many containers Compose starts for the service: `deploy.replicas`, else one."""
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
        """The service's healthcheck; any other form fails, as `run_against` could not aim it."""
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
    """Fail if any process logged an ERROR, a CRITICAL or a traceback, even one it survived."""
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
