"""Fuzzing the API contract: schemathesis (`st run`) against a real `portico serve`.

Shared by tests/e2e/test_api_contract_fuzz.py (bounded, in `make test`) and bench/fuzz.py
(`make fuzz`, the long run). The fuzzer talks HTTP to a real server process on a real
PostgreSQL, so a 5xx is what a client would get, and the server's own log is read afterwards
for the 5xx and tracebacks a check cannot see. docs/api-contract.md, "Fuzzing", has the why.
"""

import base64
import json
import re
import secrets
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.server import PORTICO, clean_env

ST = str(Path(sys.executable).with_name("st"))
HOOKS = Path(__file__).with_name("fuzz_hooks.py")
CONFIG = Path(__file__).with_name("schemathesis.toml")
FUZZ_PASSWORD = "fuzz-password-123"

UNLIMITED = "1000000"
RAISED_LIMITS = dict.fromkeys(
    (
        "RATE_LIMIT_AUTH_PER_IP",
        "RATE_LIMIT_REGISTRATIONS_PER_IP",
        "RATE_LIMIT_FOLLOWS_PER_USER",
        "RATE_LIMIT_FAVORITES_PER_USER",
        "RATE_LIMIT_COMMENTS_PER_USER",
        "RATE_LIMIT_ARTICLES_PER_USER",
        "RATE_LIMIT_UPLOADS_PER_USER",
        "RATE_LIMIT_FAILED_LOGINS",
        "RATE_LIMIT_UNTRUSTED_LOGINS",
        "RATE_LIMIT_PASSWORD_RESETS",
        "RATE_LIMIT_VERIFICATION_EMAILS",
        "RATE_LIMIT_PHONE_CODES",
        "RATE_LIMIT_PHONE_CODES_PER_IP",
        "SMS_CODES_BUDGET_PER_HOUR",
    ),
    UNLIMITED,
)
"""Every per-IP and per-user limit, and the global SMS budget, out of reach: all requests
come from one address and one account, and a 429 after the first few dozen writes (or a
503 once a thousand phone numbers have spent the hour's texts) would hide everything
behind it."""

_SERVER_FAILURE = re.compile(r"portico\.access \S+ \S+ 5\d\d | (ERROR|CRITICAL) |Traceback")
"""A 5xx in the access log, an error logged, or a traceback."""


def fuzz_server_env(database_url: str, data_dir: Path) -> dict[str, str]:
    """`portico serve` as in production (no debug output), with the limits raised."""
    return clean_env(
        APP_ENV="production",
        APP_PUBLIC_URL="https://portico.fuzz.test",
        JWT_SECRET=secrets.token_urlsafe(48),
        AUDIT_SIGNING_KEY=secrets.token_urlsafe(48),
        DATABASE_URL=database_url,
        DATA_DIR=str(data_dir),
        LOG_LEVEL="INFO",
        **RAISED_LIMITS,
    )


SEED_CONTENT = ("--users", "5", "--articles", "12", "--comments", "40")
"""Other people's content for the fuzzer to find: articles to read, favorite and comment on
(and to be refused editing), authors to follow, comments to be refused deleting."""


PRODUCTION = ("--force-production",)
"""The fuzz server runs with APP_ENV=production, which `portico seed` refuses unless told."""


def seed_content(env: dict[str, str], cwd: Path, seed: int) -> None:
    """Fill the database with `portico seed`, the same content for the same seed."""
    seeded = subprocess.run(
        [PORTICO, "seed", *SEED_CONTENT, "--seed", str(seed), "--password-stdin", *PRODUCTION],
        input=FUZZ_PASSWORD,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if seeded.returncode:
        raise RuntimeError(f"fuzz: portico seed failed:\n{seeded.stdout}{seeded.stderr}")


@dataclass(frozen=True)
class FuzzAccount:
    """The registered user a signed-in run acts as (fuzz_hooks.py signs it in)."""

    email: str
    password: str


def register_fuzz_account(base_url: str) -> FuzzAccount:
    """Register a fresh user through the API."""
    name = f"fuzz{uuid.uuid4().hex[:12]}"
    account = FuzzAccount(email=f"{name}@fuzz.test", password=FUZZ_PASSWORD)
    body = {"user": {"username": name, "email": account.email, "password": account.password}}
    response = httpx.post(f"{base_url}/api/users", json=body, timeout=30)
    if response.status_code != 201:
        raise RuntimeError(f"fuzz: sign-up failed: {response.status_code} {response.text}")
    return account


@dataclass(frozen=True)
class ContractFailure:
    """One failed check on one request."""

    code: str
    title: str
    operation: str
    message: str
    request: str


@dataclass
class FuzzReport:
    """What one `st run` found, read from its JSON and NDJSON reports."""

    command: str
    exit_code: int
    seconds: float
    cases: int
    links_followed: int
    reauthentications: int
    failures: list[ContractFailure] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: dict[str, list[str]] = field(default_factory=dict)
    output: str = ""

    def failures_by_check(self) -> Counter[str]:
        """Distinct failures per check code and title, e.g. "ST103 Undocumented status code"."""
        return Counter(f"{failure.code} {failure.title}" for failure in self.failures)

    def summary(self) -> str:
        """The failures grouped by check, then operation, with one example each."""
        by_check: dict[str, dict[str, list[ContractFailure]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for failure in self.failures:
            by_check[f"{failure.code} {failure.title}"][failure.operation].append(failure)
        lines = [f"reproduce: {self.command}"]
        for check, operations in sorted(by_check.items()):
            lines.append(f"{check}: {len(operations)} operations")
            for operation, found in sorted(operations.items()):
                example = found[0]
                message = " / ".join(example.message.splitlines())[:160]
                lines.append(f"  {operation} ({len(found)}): {message}  <- {example.request}")
        lines.extend(f"error: {error}" for error in self.errors)
        return "\n".join(lines)


def run_schemathesis(
    base_url: str,
    *,
    seed: int,
    cases_per_operation: int,
    account: FuzzAccount | None,
    workdir: Path,
    workers: int = 1,
) -> FuzzReport:
    """One `st run` with every check and every phase (examples, coverage, fuzzing, stateful).

    With one worker, a seed and a fresh database, a run repeats itself: the same cases in the
    same order. `account` signs every request in (fuzz_hooks.py); None sends no token.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    json_path, ndjson_path = workdir / "report.json", workdir / "events.ndjson"
    command = [
        ST,
        "--config-file",
        str(CONFIG),
        "run",
        f"{base_url}/schema/openapi.json",
        "--checks",
        "all",
        "--seed",
        str(seed),
        "--max-examples",
        str(cases_per_operation),
        "--workers",
        str(workers),
        "--report",
        "json,ndjson",
        "--report-json-path",
        str(json_path),
        "--report-ndjson-path",
        str(ndjson_path),
        "--no-color",
    ]
    env = clean_env(NO_COLOR="1")
    if account is not None:
        env |= {
            "SCHEMATHESIS_HOOKS": str(HOOKS),
            "FUZZ_BASE_URL": base_url,
            "FUZZ_EMAIL": account.email,
            "FUZZ_PASSWORD": account.password,
        }
    finished = subprocess.run(
        command, env=env, cwd=workdir, capture_output=True, text=True, check=False
    )
    if not json_path.exists():
        raise RuntimeError(f"st run wrote no report:\n{finished.stdout}{finished.stderr}")
    summary = json.loads(json_path.read_text())
    shown = " ".join(command[1:]).replace(base_url, "$BASE_URL")
    hooks = f"SCHEMATHESIS_HOOKS={HOOKS} FUZZ_*=... " if account is not None else ""
    return FuzzReport(
        command=f"{hooks}st {shown}",
        exit_code=finished.returncode,
        seconds=float(summary["running_time"]),
        cases=int(summary["test_cases"]["generated"]),
        links_followed=_links_followed(ndjson_path),
        reauthentications=int(summary.get("auth", {}).get("reauth_count", 0)),
        failures=_failures(ndjson_path),
        errors=[json.dumps(error) for error in summary["errors"]],
        warnings={name: found for name, found in summary["warnings"].items() if found},
        output=finished.stdout + finished.stderr,
    )


def server_log_problems(log: str) -> list[str]:
    """The lines of a server log that show a 5xx, an error or a traceback."""
    return [line for line in log.splitlines() if _SERVER_FAILURE.search(line)]


def _finished_scenarios(ndjson_path: Path) -> Iterator[dict[str, Any]]:
    """The finished scenarios of an NDJSON event log, read a line at a time (it can be large)."""
    with ndjson_path.open() as events:
        for line in events:
            if line.startswith('{"ScenarioFinished"'):
                yield json.loads(line)["ScenarioFinished"]


def _links_followed(ndjson_path: Path) -> int:
    """Stateful steps whose input came from an earlier response through a link."""
    return sum(
        1
        for scenario in _finished_scenarios(ndjson_path)
        if scenario["phase"] == "stateful"
        for case in scenario["recorder"].get("cases", {}).values()
        if case.get("is_transition_applied")
    )


def _failures(ndjson_path: Path) -> list[ContractFailure]:
    """Every distinct failed check, in the order the run found them."""
    found: dict[tuple[str, str, str], ContractFailure] = {}
    for scenario in _finished_scenarios(ndjson_path):
        recorder = scenario["recorder"]
        for case_id, checks in recorder.get("checks", {}).items():
            for check in checks:
                if check["status"] != "failure":
                    continue
                failure = check["failure_info"]["failure"]
                key = (failure["code"], failure["operation"], failure["message"])
                found.setdefault(
                    key,
                    ContractFailure(
                        code=failure["code"],
                        title=failure["title"],
                        operation=failure["operation"],
                        message=failure["message"],
                        request=_request(recorder.get("interactions", {}).get(case_id)),
                    ),
                )
    return list(found.values())


def _request(interaction: dict[str, Any] | None) -> str:
    """The request as `METHOD path body`, the body cut short."""
    if interaction is None:
        return "(no request recorded)"
    request = interaction["request"]
    path = re.sub(r"^https?://[^/]+", "", request["uri"])
    body = request.get("body")
    if isinstance(body, dict) and "$base64" in body:
        text = base64.b64decode(body["$base64"]).decode("utf-8", "backslashreplace")
        return f"{request['method']} {path} {text[:200]}"
    return f"{request['method']} {path}"
