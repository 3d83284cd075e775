"""The long contract fuzz (issue 17): schemathesis against a local `portico serve`.

The same harness as tests/e2e/test_api_contract_fuzz.py (tests/support/contract_fuzz.py),
run for many more cases: `--signed-in-cases` (50,000) as a registered user and
`--anonymous-cases` (30,000) with no token, every check and every phase (examples,
coverage, fuzzing, stateful). Each caller gets a server of its own on a freshly migrated
schema seeded with `portico seed --seed SEED`. `st run` takes a number of cases per
operation, and an operation without parameters runs out of new cases early, so the script
runs rounds (seed, seed + 1, ...), each asking for the cases still missing spread over the
operations, until the caller has had its share; a round is reproducible from its seed.

Printed per caller: cases, rounds, links followed by the stateful phase, re-sign-ins,
distinct failures by check (with the operations), and the server log's 5xx by status,
errors and tracebacks; then the duration. Exit 1 if any check failed, schemathesis reported
an error, or the log shows a 5xx, an error or a traceback.

    make fuzz
    .venv/bin/python bench/fuzz.py --signed-in-cases 5000 --anonymous-cases 3000 --seed 7

PostgreSQL: the server of DATABASE_URL, else postgresql://postgres@127.0.0.1:5432/postgres;
the run creates its schemas there and drops them at the end.
"""

import argparse
import math
import os
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.contract_fuzz import (
    ContractFailure,
    FuzzReport,
    fuzz_server_env,
    register_fuzz_account,
    run_schemathesis,
    seed_content,
    server_log_problems,
)
from tests.support.network import free_port
from tests.support.postgres import isolated_schema, run_alembic
from tests.support.server import portico_server

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
_STATUS = re.compile(r"portico\.access \S+ \S+ (5\d\d) ")


@dataclass
class CallerOutcome:
    """Everything the rounds of one caller found."""

    caller: str
    seconds: float = 0.0
    rounds: list[FuzzReport] = field(default_factory=list)
    log_problems: list[str] = field(default_factory=list)

    @property
    def cases(self) -> int:
        return sum(report.cases for report in self.rounds)

    @property
    def failures(self) -> list[ContractFailure]:
        distinct = {(f.code, f.operation, f.message): f for r in self.rounds for f in r.failures}
        return list(distinct.values())

    @property
    def errors(self) -> list[str]:
        return [error for report in self.rounds for error in report.errors]

    @property
    def failed(self) -> bool:
        return bool(self.failures or self.errors or self.log_problems)


def operation_count(base_url: str) -> int:
    schema = httpx.get(f"{base_url}/schema/openapi.json", timeout=30).json()
    return sum(len(METHODS & set(item)) for item in schema["paths"].values())


def fuzz_caller(
    caller: str, cases: int, args: argparse.Namespace, server_url: str, workdir: Path
) -> CallerOutcome:
    outcome = CallerOutcome(caller)
    started = time.monotonic()
    with isolated_schema(server_url, prefix="fuzz") as database_url:
        run_alembic(database_url, "upgrade", "head")
        env = fuzz_server_env(database_url, workdir / "data")
        seed_content(env, workdir, args.seed)
        with portico_server(free_port(), env, workdir) as server:
            account = register_fuzz_account(server.base_url) if caller == "signed-in" else None
            operations = operation_count(server.base_url)
            while outcome.cases < cases:
                round_seed = args.seed + len(outcome.rounds)
                per_operation = math.ceil((cases - outcome.cases) / operations)
                print(
                    f"  {caller}: round {len(outcome.rounds) + 1}, seed {round_seed}, "
                    f"{per_operation} cases per operation ({outcome.cases:,} so far)"
                )
                outcome.rounds.append(
                    run_schemathesis(
                        server.base_url,
                        seed=round_seed,
                        cases_per_operation=per_operation,
                        account=account,
                        workdir=workdir / f"round-{len(outcome.rounds) + 1}",
                        workers=args.workers,
                    )
                )
            outcome.log_problems = server_log_problems(server.log())
    outcome.seconds = time.monotonic() - started
    return outcome


def report(outcome: CallerOutcome) -> None:
    rounds = outcome.rounds
    print(
        f"\n== {outcome.caller}: {outcome.cases:,} cases in {len(rounds)} rounds, "
        f"{outcome.seconds:.0f} s"
    )
    print(
        f"   links followed by the stateful phase: {sum(r.links_followed for r in rounds):,}; "
        f"re-sign-ins: {sum(r.reauthentications for r in rounds)}"
    )
    by_check = Counter(f"{f.code} {f.title}" for f in outcome.failures)
    print(f"   distinct failures: {len(outcome.failures)}")
    for check, count in sorted(by_check.items()):
        operations = sorted(
            {f.operation for f in outcome.failures if f"{f.code} {f.title}" == check}
        )
        print(f"     {check}: {count} ({len(operations)} operations: {', '.join(operations)})")
    print(f"   schemathesis errors: {len(outcome.errors)}")
    statuses = Counter(m.group(1) for line in outcome.log_problems if (m := _STATUS.search(line)))
    tracebacks = sum("Traceback" in line for line in outcome.log_problems)
    errors = len(outcome.log_problems) - sum(statuses.values()) - tracebacks
    shown = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items())) or "none"
    print(f"   server log: 5xx {shown}; tracebacks {tracebacks}; other error lines {errors}")
    if outcome.failed:
        for fuzz_round in rounds:
            if fuzz_round.failures or fuzz_round.errors:
                print(f"\n-- {outcome.caller}, {fuzz_round.command}\n{fuzz_round.summary()}")
        for line in outcome.log_problems[:50]:
            print(f"   log: {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signed-in-cases", type=int, default=50_000)
    parser.add_argument("--anonymous-cases", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--workers", type=int, default=1, help="st run --workers (1 repeats)")
    args = parser.parse_args()

    server_url = os.environ.get("DATABASE_URL", DEFAULT_SERVER)
    started = time.monotonic()
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="portico-fuzz-") as scratch:
        for caller, cases in (
            ("signed-in", args.signed_in_cases),
            ("anonymous", args.anonymous_cases),
        ):
            if cases > 0:
                workdir = Path(scratch) / caller
                workdir.mkdir()
                outcomes.append(fuzz_caller(caller, cases, args, server_url, workdir))
    for outcome in outcomes:
        report(outcome)
    total = sum(outcome.cases for outcome in outcomes)
    print(f"\nfuzz: {total:,} cases, seed {args.seed}, {time.monotonic() - started:.0f} s")
    return 1 if any(outcome.failed for outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
