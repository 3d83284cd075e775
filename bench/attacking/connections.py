"""Attack 1: slow headers and idle keep-alive connections."""

import argparse
import asyncio
import contextlib
import time

from tests.support.server import RunningServer

from bench.attacking.harness import Setup, Tally, run_loop, started
from bench.attacking.measure import Result, Watch, finish

# --- 1. slow headers and idle keep-alive ------------------------------------------------------


async def _hold(
    port: int, until: float, tally: Tally, gate: asyncio.Semaphore, *, mode: str, interval: float
) -> None:
    """One attacking connection, reopened whenever the server closes it, until `until`."""
    while time.monotonic() < until:
        try:
            async with gate:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port), 10
                )
            tally.opened += 1
        except (OSError, TimeoutError):
            tally.refused += 1
            await asyncio.sleep(0.5)
            continue
        try:
            if mode == "slow":
                writer.write(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                line = 0
                while time.monotonic() < until:
                    await writer.drain()
                    # A read that ends means the server closed the connection.
                    with contextlib.suppress(TimeoutError):
                        data = await asyncio.wait_for(reader.read(65536), interval)
                        if not data:
                            break
                    line += 1
                    writer.write(f"X-Slow-{line}: {'a' * 16}\r\n".encode())
            else:
                writer.write(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                await writer.drain()
                got = await asyncio.wait_for(reader.read(65536), 10)
                if got.startswith(b"HTTP/1.1 "):
                    tally.responses += 1
                while got and time.monotonic() < until:
                    with contextlib.suppress(TimeoutError):
                        got = await asyncio.wait_for(reader.read(65536), 1)
            if time.monotonic() < until:
                tally.closed_by_server += 1
                await asyncio.sleep(0.5)
        except (OSError, TimeoutError, RuntimeError):  # uvloop: write after close
            tally.closed_by_server += 1
            await asyncio.sleep(0.5)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1)


def slow_headers(setup: Setup, args: argparse.Namespace) -> list[Result]:
    results = []
    runs = [("slow", n) for n in args.slow_header_sizes] + [("idle", args.idle_connections)]
    for mode, count in runs:
        with started(setup, args.server) as (running, port):
            tally = Tally()

            async def attack(count: int = count, mode: str = mode, tally: Tally = tally) -> None:
                until = time.monotonic() + args.slow_seconds
                gate = asyncio.Semaphore(200)
                await tally.gather(
                    *(
                        _hold(port, until, tally, gate, mode=mode, interval=args.header_interval)
                        for _ in range(count)
                    )
                )

            with Watch(running, port) as watch:
                run_loop(attack)
            results.append(
                _slow_result(
                    args, mode=mode, count=count, tally=tally, running=running, watch=watch
                )
            )
    return results


def _slow_result(
    args: argparse.Namespace,
    *,
    mode: str,
    count: int,
    tally: Tally,
    running: RunningServer,
    watch: Watch,
) -> Result:
    what = (
        f"{count} connections, one header line every {args.header_interval:g} s"
        if mode == "slow"
        else f"{count} idle keep-alive connections (one request each, then silent)"
    )
    notes = [
        f"{args.slow_seconds:g} s; {tally.opened} connections opened, {tally.refused} "
        f"refused or timed out, {tally.closed_by_server} closed by the server"
        + (f", {tally.responses} responses" if mode == "idle" else "")
    ]
    name = "slow-headers" if mode == "slow" else "idle-keep-alive"
    return finish(
        tally=tally,
        name=name,
        size=what,
        server=args.server,
        running=running,
        watch=watch,
        checks=[],
        notes=notes,
        probe_target=True,
    )
