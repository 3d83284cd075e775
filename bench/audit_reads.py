"""The read half of `bench/audit.py`: each filter of `GET /api/admin/audit`, timed and counted.

`measure_reads` requests each filter over HTTP, `count_statements` counts what the same
requests run (`bench/audit_plans.py`) and explains it, and `print_reads` shows both.
"""

import asyncio
from dataclasses import dataclass, field

import httpx

from bench.audit_plans import Captured, Plan, capture_statements, check_plan
from bench.audit_seed import ReadCase
from bench.content import Server
from bench.load import LoadResult
from bench.request_cycles import HOST, Cycle, auth, port_of, run_cycles
from entrypoints.bootstrap import setup_logging
from entrypoints.config import load_settings


@dataclass(slots=True)
class ReadRow:
    """One filter's figures: its answers, its load run, its statements and their plans."""

    case: ReadCase
    counts: list[int] = field(default_factory=list)
    capped: bool = False
    result: LoadResult | None = None
    error: str | None = None
    captured: Captured | None = None
    plans: list[tuple[Plan, Plan]] = field(default_factory=list)


def first_pass(server: Server, token: str, row: ReadRow) -> list[dict[str, object]]:
    """GET every value of the filter once; the bodies (none if one was not a 200)."""
    bodies = []
    with httpx.Client(base_url=server.base, headers=auth(token), timeout=60) as client:
        for path in row.case.paths():
            answer = client.get(path)
            if answer.status_code != 200:
                row.error = f"GET {path} -> {answer.status_code} {answer.text[:200]}"
                return []
            body = answer.json()
            bodies.append(body)
            row.counts.append(int(body["count"]))
            row.capped = row.capped or bool(body["countCapped"])
    return bodies


def measure_reads(
    server: Server, token: str, cases: list[ReadCase], seconds: float
) -> list[ReadRow]:
    """Each filter once over its values, then on one connection for `seconds`.

    After the action filter, its second pages (through each first page's nextCursor) are
    a row of their own.
    """
    rows = []
    pending = list(cases)
    while pending:
        row = ReadRow(pending.pop(0))
        rows.append(row)
        if not row.case.queries:
            row.error = "no value to request (the seeded log is too small?)"
            continue
        bodies = first_pass(server, token, row)
        if row.error is not None:
            continue
        cycle = Cycle.of(HOST, [("GET", path) for path in row.case.paths()], headers=auth(token))
        row.result = asyncio.run(run_cycles(HOST, port_of(server.base), [cycle], seconds))
        if row.result.errors:
            row.error = "; ".join(cycle.failures)
        if row.case.label == "action":
            follow = [
                {**query, "cursor": str(body["nextCursor"])}
                for query, body in zip(row.case.queries, bodies, strict=True)
                if body.get("nextCursor")
            ]
            pending.insert(0, ReadCase("action, page 2 (nextCursor)", follow))
    return rows


def count_statements(env: dict[str, str], token: str, rows: list[ReadRow], url: str) -> None:
    """Each row's first value, requested in this process: its statements, and their plans."""
    measured = [row for row in rows if row.error is None and row.case.queries]
    settings = load_settings(env, env_file=None)
    setup_logging(settings)
    paths = [row.case.paths()[0] for row in measured]
    for row, captured in zip(
        measured, asyncio.run(capture_statements(settings, token, paths)), strict=True
    ):
        row.captured = captured
        if captured.status != 200:
            row.error = f"in-process GET answered {captured.status}"
            continue
        row.plans = [check_plan(url, statement) for statement in captured.audit_statements]


def print_reads(rows: list[ReadRow], entries: int, seconds: float) -> None:
    """The read table, then each row's plans."""
    print(
        f"\nGET /api/admin/audit over {entries:,} entries, one connection, {seconds:g} s per "
        "filter going round its values; statements: audit_entries + other, per request"
    )
    print(
        f"{'filter':34} {'count (min-max)':>16} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'stmts':>6}"
    )
    for row in rows:
        if row.result is None:
            print(f"{row.case.label:34} {'-':>16}  {row.error}")
            continue
        counts = f"{min(row.counts)}-{max(row.counts)}" + ("+" if row.capped else "")
        statements = "-"
        if row.captured is not None:
            audit = len(row.captured.audit_statements)
            statements = f"{audit}+{len(row.captured.statements) - audit}"
        print(
            f"{row.case.label:34} {counts:>16} {row.result.per_second:7.0f} "
            f"{row.result.percentile(50):8.2f} {row.result.percentile(99):8.2f} {statements:>6}"
        )
    print("\nplans of each audit statement: first run | sixth run, once prepared (ms to execute)")
    for row in rows:
        for number, (first, sixth) in enumerate(row.plans, 1):
            print(
                f"{row.case.label:34} {number}: {first.describe()} ({first.milliseconds:.2f}) | "
                f"{sixth.describe()} ({sixth.milliseconds:.2f})"
            )
