"""The API keeps its OpenAPI contract under fuzzing (issue 17), signed in and anonymous.

Schemathesis (`st run`) fuzzes a real `portico serve` on a freshly migrated schema of its
own: every check, and every phase, including the stateful one that follows the links it
infers from the schema (publish an article, then read, edit, comment on, favorite and delete
it; follow the author; read a notification; revoke a session). A run is seeded and has a
fixed number of cases per operation, so it repeats itself; bench/fuzz.py (`make fuzz`) is
the long run of the same harness. Any failed check fails the test, and so does a 5xx, an
error or a traceback in the server's log. On failure the message groups what failed by
check and operation, with one request each and the command that reproduces the run.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.contract_fuzz import (
    FuzzAccount,
    fuzz_server_env,
    register_fuzz_account,
    run_schemathesis,
    seed_content,
    server_log_problems,
)
from tests.support.network import free_port
from tests.support.postgres import isolated_schema, run_alembic
from tests.support.server import RunningServer, portico_server

pytestmark = pytest.mark.e2e

SEED = 17
CASES_PER_OPERATION = {"signed-in": 25, "anonymous": 25}
"""Sized so that both runs together take about two minutes on two cores."""
FUZZ_TIMEOUT_SECONDS = 300


@pytest.fixture
def server(postgres_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    """A server of its own on a schema of its own, with the same seeded content each time."""
    with isolated_schema(postgres_url, prefix="fuzz") as database_url:
        run_alembic(database_url, "upgrade", "head")
        env = fuzz_server_env(database_url, tmp_path / "data")
        seed_content(env, tmp_path, SEED)
        with portico_server(free_port(), env, tmp_path) as running:
            yield running


@pytest.mark.timeout(FUZZ_TIMEOUT_SECONDS)
@pytest.mark.parametrize("caller", ["signed-in", "anonymous"])
def test_the_api_keeps_its_contract_under_fuzzing(
    server: RunningServer, caller: str, tmp_path: Path
) -> None:
    account: FuzzAccount | None = None
    if caller == "signed-in":
        account = register_fuzz_account(server.base_url)
    log_start = len(server.log())

    report = run_schemathesis(
        server.base_url,
        seed=SEED,
        cases_per_operation=CASES_PER_OPERATION[caller],
        account=account,
        workdir=tmp_path / "schemathesis",
    )
    problems = server_log_problems(server.log()[log_start:])

    print(report.output)  # noqa: T201 - schemathesis' own account, shown when the test fails
    assert report.cases >= CASES_PER_OPERATION[caller], report.output
    assert report.links_followed > 0, "the stateful phase followed no link\n" + report.output
    assert not report.failures, report.summary()
    assert not report.errors, report.summary()
    assert not problems, "the server logged 5xx or errors:\n" + "\n".join(problems[:50])
    assert report.exit_code == 0, report.output
