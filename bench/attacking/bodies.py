"""Attack 3: slow request bodies."""

import argparse
import asyncio
import contextlib
import re
import time

from bench.attacking.harness import Setup, Tally, run_loop, started
from bench.attacking.measure import MB, Result, Watch, finish, tree_rss

SETTLE_TOLERANCE = 0.10
# A failed request in the server's log: any 5xx but 503 (a deliberate refusal), an error, a
# traceback. The other answers are counted by status.
_SERVER_ERROR = re.compile(
    r"portico\.access \S+ \S+ 5(0[0-24-9]|[1-9]\d) | (ERROR|CRITICAL) |Traceback|unhandled "
)
_ACCESS = re.compile(r"portico\.access \S+ \S+ (\d{3}) ")


# --- 3. slow bodies ---------------------------------------------------------------------------


async def _slow_body(port: int, size: int, tally: Tally, sent: asyncio.Event) -> None:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 20)
    except (OSError, TimeoutError):
        tally.refused += 1
        return
    tally.opened += 1
    try:
        writer.write(
            b"POST /api/users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {size}\r\n\r\n".encode()
        )
        chunk = b'{"user":' + b" " * 65_528
        left = size - 10
        while left > 0:
            writer.write(chunk[: min(left, len(chunk))])
            left -= min(left, len(chunk))
            await asyncio.wait_for(writer.drain(), 30)
        tally.responses += 1  # here: bodies sent to within 10 bytes
    except (OSError, TimeoutError, RuntimeError):  # uvloop: write after close
        tally.closed_by_server += 1
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(sent.wait(), 60)
    writer.transport.abort()
    del reader


def slow_bodies(setup: Setup, args: argparse.Namespace) -> list[Result]:
    with started(setup, args.server) as (running, port):
        log_start = len(running.log())
        tally = Tally()
        with Watch(running, port) as watch:

            async def attack() -> None:
                sent = asyncio.Event()
                tasks = [
                    asyncio.create_task(_slow_body(port, args.body_bytes, tally, sent))
                    for _ in range(args.body_connections)
                ]
                deadline = time.monotonic() + args.body_seconds
                done = 0
                while time.monotonic() < deadline and done < len(tasks):
                    await asyncio.sleep(0.1)
                    done = tally.responses + tally.refused + tally.closed_by_server
                await asyncio.sleep(1.0)  # let the server read what is in flight
                sent.set()
                await tally.gather(*tasks)

            run_loop(attack)
        baseline = watch.usage.baseline_rss
        after_attack = tree_rss(running.process.pid)
        time.sleep(args.settle_seconds)
        settled = tree_rss(running.process.pid)
        log = running.log()[log_start:].splitlines()
        failures = [line for line in log if _SERVER_ERROR.search(line)]
        shed: dict[str, int] = {}
        for line in log:
            if match := _ACCESS.search(line):
                shed[match[1]] = shed.get(match[1], 0) + 1
        growth = (watch.usage.peak_rss - baseline) / MB
        notes = [
            (
                f"{tally.opened} connected, {tally.responses} sent all but 10 bytes, "
                f"{tally.closed_by_server} cut off by the server, {tally.refused} refused"
            ),
            (
                f"RSS right after {after_attack / MB:.1f} MB, {args.settle_seconds:g} s later "
                f"{settled / MB:.1f} MB (baseline {baseline / MB:.1f} MB)"
            ),
            "answers in the log: "
            + (", ".join(f"{k} x{v}" for k, v in sorted(shed.items())) or "none but the above"),
            *(f"log: {line[:160]}" for line in failures[:5]),
        ]
        checks = [
            (
                f"peak RSS growth {growth:.1f} MB <= budget {args.body_rss_budget_mb:g} MB",
                growth <= args.body_rss_budget_mb,
            ),
            (
                (
                    f"RSS {args.settle_seconds:g} s later within 10% of baseline "
                    f"({(settled / baseline - 1) * 100:+.1f}%)"
                ),
                abs(settled / baseline - 1) <= SETTLE_TOLERANCE,
            ),
            (
                f"no 5xx but 503, no ERROR or traceback in the log ({len(failures)} lines)",
                not failures,
            ),
        ]
        size = (
            f"{args.body_connections} connections x {args.body_bytes / MB:g} MB body "
            "(all but 10 bytes)"
        )
        return [
            finish(
                tally=tally,
                name="slow-bodies",
                size=size,
                server=args.server,
                running=running,
                watch=watch,
                checks=checks,
                notes=notes,
                probe_target=False,
            )
        ]
