"""Attack 4: big WebSocket frames before auth."""

import argparse
import asyncio
import contextlib
from dataclasses import dataclass

from tests.support.server import RunningServer

from bench.attacking.harness import Setup, run_loop, started
from bench.attacking.measure import MB, Result, Watch, finish
from bench.attacking.sockets import UPGRADE

FRAME_RSS_TARGET_MB = 20.0


# --- 4. big frames before auth ----------------------------------------------------------------


@dataclass
class FrameOutcome:
    sent_all: bool
    sent_bytes: int
    close: str


async def _big_frame(port: int, size: int) -> FrameOutcome:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 20)
    writer.write(UPGRADE)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 20)
    if not head.startswith(b"HTTP/1.1 101"):
        writer.close()
        return FrameOutcome(sent_all=False, sent_bytes=0, close=head.split(b"\r\n")[0].decode())
    # A final text frame, masked with a zero key (so the payload goes as it is).
    writer.write(bytes((0x81, 0x80 | 127)) + size.to_bytes(8, "big") + b"\0\0\0\0")
    chunk = b"a" * 65_536
    sent = 0
    close = "open"
    closed = asyncio.ensure_future(reader.read(65536))
    try:
        while sent < size:
            step = min(len(chunk), size - sent)
            writer.write(chunk[:step])
            drain = asyncio.ensure_future(writer.drain())
            done, _ = await asyncio.wait(
                {drain, closed}, timeout=20, return_when=asyncio.FIRST_COMPLETED
            )
            if closed in done:
                drain.cancel()
                break
            if not done:
                close = "stalled: the server stopped reading"
                break
            drain.result()
            sent += step
    except (OSError, RuntimeError) as error:
        close = f"reset ({type(error).__name__})"
    if closed.done() or sent >= size:
        close = "reset, no close frame"
        with contextlib.suppress(Exception):
            data = await asyncio.wait_for(closed, 10)
            if len(data) >= 4 and data[0] == 0x88:
                close = f"close frame {int.from_bytes(data[2:4], 'big')}"
            elif not data:
                close = "closed, no close frame"
            else:
                close = f"answer {data[:20]!r}"
    closed.cancel()
    writer.transport.abort()
    return FrameOutcome(sent_all=sent >= size, sent_bytes=sent, close=close)


def big_frames(setup: Setup, args: argparse.Namespace) -> list[Result]:
    """Once per `--frame-setups` entry: a server, and its waiting room (0: tickets only)."""
    results = []
    for server, room in args.frame_setups:
        with started(setup, server, WS_MAX_UNAUTHENTICATED=str(room)) as (running, port):
            outcomes: list[FrameOutcome | BaseException] = []

            async def attack(outcomes: list[FrameOutcome | BaseException] = outcomes) -> None:
                gate = asyncio.Semaphore(args.frame_concurrency)

                async def one() -> FrameOutcome:
                    async with gate:
                        return await _big_frame(port, args.frame_bytes)

                outcomes.extend(
                    await asyncio.gather(
                        *(one() for _ in range(args.frames)), return_exceptions=True
                    )
                )

            with Watch(running, port) as watch:
                run_loop(attack)
            results.append(_frames_result(args, (server, room), outcomes, running, watch))
    return results


def _frames_result(
    args: argparse.Namespace,
    setup: tuple[str, int],
    outcomes: list[FrameOutcome | BaseException],
    running: RunningServer,
    watch: Watch,
) -> Result:
    ok = [o for o in outcomes if isinstance(o, FrameOutcome)]
    buffered = [o for o in ok if o.sent_all]
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    closes: dict[str, int] = {}
    for outcome in ok:
        closes[outcome.close] = closes.get(outcome.close, 0) + 1
    growth = (watch.usage.peak_rss - watch.usage.baseline_rss) / MB
    sent = [o.sent_bytes for o in ok]
    notes = [
        (
            f"bytes the server took before closing: max {max(sent, default=0) / MB:.2f} MB, "
            f"median {sorted(sent)[len(sent) // 2] / MB if sent else 0:.2f} MB"
        ),
        "how they ended: " + ", ".join(f"{k} x{v}" for k, v in sorted(closes.items())),
        *(f"error: {e!r}" for e in errors[:3]),
    ]
    checks = [
        (
            (
                f"every connection closed before its frame was sent ({len(buffered)} of "
                f"{len(outcomes)} sent in full, {len(errors)} errors)"
            ),
            not buffered and not errors and len(ok) == args.frames,
        ),
        (f"RSS growth {growth:.1f} MB < {FRAME_RSS_TARGET_MB:g} MB", growth < FRAME_RSS_TARGET_MB),
    ]
    mib = args.frame_bytes / (1 << 20)
    server, room = setup
    admission = f"a waiting room of {room}" if room else "tickets only"
    size = f"{args.frames} frames x {mib:g} MiB, {args.frame_concurrency} at once, {admission}"
    return finish(
        name="big-frames",
        size=size,
        server=server,
        running=running,
        watch=watch,
        checks=checks,
        notes=notes,
        probe_target=False,
    )
