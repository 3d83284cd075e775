"""Attack 5: follow and unfollow toggles."""

import argparse
import asyncio
import time

import httpx
from tests.support.server import RunningServer

from bench.attacking.harness import Setup, register, run_loop, started
from bench.attacking.measure import Result, Watch, finish

MAX_NEW_FOLLOWER_NOTIFICATIONS = 1


# --- 5. follow toggles ------------------------------------------------------------------------


def follow_toggle(setup: Setup, args: argparse.Namespace) -> list[Result]:
    with started(setup, args.server) as (running, port):
        base = running.base_url
        _, follower = register(base)
        victim_name, victim = register(base)
        statuses: dict[int, int] = {}
        retry_after: list[str | None] = []
        with Watch(running, port) as watch:

            async def attack() -> None:
                headers = {"Authorization": f"Token {follower}"}
                url = f"{base}/api/profiles/{victim_name}/follow"
                spacing = args.follow_seconds / args.follow_toggles
                async with httpx.AsyncClient(headers=headers, timeout=10) as client:

                    async def toggle(number: int) -> None:
                        await asyncio.sleep(number * spacing)
                        method = "POST" if number % 2 == 0 else "DELETE"
                        try:
                            response = await client.request(method, url)
                        except httpx.HTTPError:
                            statuses[0] = statuses.get(0, 0) + 1
                            return
                        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                        if response.status_code == 429:
                            retry_after.append(response.headers.get("retry-after"))

                    await asyncio.gather(*(toggle(n) for n in range(args.follow_toggles)))

            run_loop(attack)
        count, kinds = _settled_notifications(base, victim, args.follow_settle_seconds)
        return [
            _follow_result(
                args,
                statuses=statuses,
                retry_after=retry_after,
                count=count,
                kinds=kinds,
                running=running,
                watch=watch,
            )
        ]


def _follow_result(
    args: argparse.Namespace,
    *,
    statuses: dict[int, int],
    retry_after: list[str | None],
    count: int,
    kinds: dict[str, int],
    running: RunningServer,
    watch: Watch,
) -> Result:
    limited = statuses.get(429, 0)
    with_header = sum(1 for value in retry_after if value)
    notes = [
        "answers: " + ", ".join(f"{k or 'error'} x{v}" for k, v in sorted(statuses.items())),
        f"Retry-After on {with_header} of {limited} 429s"
        + (f" (e.g. {retry_after[0]!r})" if retry_after else ""),
        f"the victim's notifications: {count} new_follower ({kinds})",
    ]
    checks = [
        (
            f"rate-limited: {limited} answers 429, each with Retry-After",
            limited > 0 and with_header == limited,
        ),
        (
            f"victim got {count} new_follower notifications <= {MAX_NEW_FOLLOWER_NOTIFICATIONS}",
            count <= MAX_NEW_FOLLOWER_NOTIFICATIONS,
        ),
    ]
    size = f"{args.follow_toggles} follow/unfollow in {args.follow_seconds:g} s"
    return finish(
        name="follow-toggle",
        size=size,
        server=args.server,
        running=running,
        watch=watch,
        checks=checks,
        notes=notes,
        probe_target=False,
    )


def _settled_notifications(base: str, token: str, within: float) -> tuple[int, dict[str, int]]:
    """The victim's new_follower count once it stops changing (2 s unchanged, or `within`)."""
    headers = {"Authorization": f"Token {token}"}
    deadline = time.monotonic() + within
    last, stable_since = -1, time.monotonic()
    kinds: dict[str, int] = {}
    while True:
        response = httpx.get(f"{base}/api/notifications?limit=100", headers=headers, timeout=10)
        kinds = {}
        for item in response.json().get("notifications", []):
            kinds[item["kind"]] = kinds.get(item["kind"], 0) + 1
        count = kinds.get("new_follower", 0)
        if count != last:
            last, stable_since = count, time.monotonic()
        if (time.monotonic() - stable_since >= 2 and count > 0) or time.monotonic() > deadline:
            return count, kinds
        time.sleep(0.25)
