"""Attack 2: unauthenticated WebSockets while a legitimate client authenticates."""

import argparse
import asyncio
import contextlib
import json
import time

import httpx
from tests.support.server import RunningServer
from websockets.asyncio.client import connect

from bench.attacking.harness import Setup, Tally, register, run_loop, started
from bench.attacking.measure import BYSTANDER, Result, Watch, finish

# --- 2. unauthenticated WebSockets and a legitimate client ------------------------------------

UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


async def _unauthenticated(port: int, until: float, tally: Tally, gate: asyncio.Semaphore) -> None:
    while time.monotonic() < until:
        try:
            async with gate:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port), 10
                )
                writer.write(UPGRADE)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            tally.refused += 1
            await asyncio.sleep(0.2)
            continue
        if head.startswith(b"HTTP/1.1 101"):
            tally.opened += 1
        else:
            tally.refused += 1
        try:
            while time.monotonic() < until:
                with contextlib.suppress(TimeoutError):
                    if not await asyncio.wait_for(reader.read(65536), 1):
                        tally.closed_by_server += 1
                        break
        except (OSError, RuntimeError):
            tally.closed_by_server += 1
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1)


async def _legitimate(port: int, token: str, *, with_ticket: bool) -> tuple[bool, float, str]:
    """One attempt of the user to get a live socket: by a ticket, or by the `auth` message."""
    started = time.perf_counter()
    url = f"ws://127.0.0.1:{port}/ws"
    try:
        async with asyncio.timeout(10):
            if with_ticket:
                transport = httpx.AsyncHTTPTransport(local_address=BYSTANDER[0])
                async with httpx.AsyncClient(transport=transport) as http:
                    answer = await http.post(
                        f"http://127.0.0.1:{port}/api/notifications/live-ticket",
                        headers={"Authorization": f"Token {token}"},
                    )
                if answer.status_code != httpx.codes.CREATED:
                    return False, time.perf_counter() - started, f"ticket: {answer.text}"
                url += f"?ticket={answer.json()['ticket']}"
            async with connect(url, open_timeout=10, local_addr=(BYSTANDER[0], 0)) as ws:
                if not with_ticket:
                    await ws.send(json.dumps({"type": "auth", "token": token}))
                while True:
                    message = json.loads(await ws.recv())
                    if message.get("type") == "auth_ok":
                        return True, time.perf_counter() - started, "auth_ok"
                    if message.get("type") == "error":
                        return False, time.perf_counter() - started, str(message)
    except Exception as error:  # noqa: BLE001 - any failure is a failed attempt
        return False, time.perf_counter() - started, f"{type(error).__name__}: {error}"


def ws_unauth(setup: Setup, args: argparse.Namespace) -> list[Result]:
    """Once per setup (`--ws-setups`): tickets only (0), or a waiting room of N places."""
    return [_ws_unauth(setup, args, server, room) for server, room in args.ws_setups]


def _ws_unauth(setup: Setup, args: argparse.Namespace, server: str, room: int) -> Result:
    with started(setup, server, WS_MAX_UNAUTHENTICATED=str(room)) as (running, port):
        _, token = register(running.base_url)
        tally = Tally()
        attempts: list[tuple[bool, float, str]] = []
        with Watch(running, port) as watch:

            async def attack() -> None:
                until = time.monotonic() + args.ws_seconds
                gate = asyncio.Semaphore(200)
                sockets = [
                    asyncio.create_task(_unauthenticated(port, until, tally, gate))
                    for _ in range(args.ws_sockets)
                ]
                await asyncio.sleep(min(3.0, args.ws_seconds / 4))  # let the sockets open
                while time.monotonic() < until:
                    tick = time.monotonic()
                    attempts.append(await _legitimate(port, token, with_ticket=room == 0))
                    await asyncio.sleep(max(0.0, 2.0 - (time.monotonic() - tick)))
                await tally.gather(*sockets)

            run_loop(attack)
        return _ws_result(args, tally, attempts, running, watch, server=server, room=room)


def _ws_result(
    args: argparse.Namespace,
    tally: Tally,
    attempts: list[tuple[bool, float, str]],
    running: RunningServer,
    watch: Watch,
    *,
    server: str,
    room: int,
) -> Result:
    failed = [a for a in attempts if not a[0]]
    notes = [
        (
            f"{args.ws_seconds:g} s; {tally.opened} sockets upgraded, {tally.refused} refused, "
            f"{tally.closed_by_server} closed by the server"
        ),
        (
            f"legitimate client: {len(attempts) - len(failed)}/{len(attempts)} got auth_ok, "
            f"slowest {max((a[1] for a in attempts), default=0) * 1000:.0f} ms"
        ),
        *(f"failed attempt: {a[2]}" for a in failed[:3]),
    ]
    checks = [("legitimate client authenticated every time", bool(attempts) and not failed)]
    admission = f"a waiting room of {room}" if room else "tickets only"
    size = f"{args.ws_sockets} unauthenticated sockets for {args.ws_seconds:g} s, {admission}"
    return finish(
        tally=tally,
        name="ws-unauth",
        size=size,
        server=server,
        running=running,
        watch=watch,
        checks=checks,
        notes=notes,
        probe_target=False,
    )
