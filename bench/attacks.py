"""Denial-of-service attacks from one client against a local `portico serve` (issue 28).

Each attack gets a fresh server (`portico serve`, APP_WORKERS=1, granian unless `--server
uvicorn`) on PostgreSQL and, when reachable, Redis. While it runs, a separate process
probes `GET /health/live` on a fresh connection every 100 ms (each with 5 s to answer;
one that does not counts as > 5 s), and a sampler reads the RSS
and CPU time of the server's process tree (the supervisor and its workers, summed). After
each attack the script checks that the server serves normally at once: `/health/live` and
`GET /api/tags` (a database read) answer 200, each within a second. The attackers connect
from 127.0.0.1; the probe and the legitimate WebSocket client from `--bystander`
(127.0.0.2), as an unrelated client would, so that per-address limits apply to the
attacker only (`--bystander 127.0.0.1` shares the attacker's address).

Attacks (`--only NAME`, repeatable) and their targets:

- `slow-headers`: 1,100 and then 3,000 connections, each sending one header line every 3 s
  (reopened when the server closes them); then `idle-keep-alive`: 1,100 connections, each
  sending one request and then nothing. Target: probe p99 < 1 s; serves at once after.
- `ws-unauth`: 1,000 sockets on `/ws` that never authenticate, reopened as they are
  closed, for 35 s, while a registered user connects and authenticates every 2 s. Once
  with the default admission, tickets only (the user takes a ticket each time), and once
  with a waiting room of 1,000 under uvicorn (`--ws-setups`; the user sends `auth`;
  production settings refuse a waiting room under granian). Target: every one of
  the user's attempts gets `auth_ok`.
- `slow-bodies`: 900 connections, each sending all but 10 bytes of a 1 MB body to
  `POST /api/users`, then disconnecting. Target: peak RSS at most the baseline plus
  `--body-rss-budget-mb` (200 MB); RSS within 10% of the baseline a minute later
  (`--settle-seconds`); no 5xx but 503 (a deliberate refusal), no ERROR and no traceback
  in the server's log. The baseline is taken after one `POST /api/users` (a 422).
- `big-frames`: 40 WebSocket text frames of 16 MiB sent before `auth`, one per connection,
  10 at once, under granian and uvicorn with the default admission (tickets only), and
  under uvicorn with a waiting room of 1,000 (`--frame-setups`; granian cannot refuse a
  frame before reading it, docs/notifications.md). Target: each connection closed before
  the client could send the whole frame; RSS grows < 20 MB.
- `follow-toggle`: one user follows and unfollows another 400 times in 10 s. Target: some
  answers are 429, every 429 has Retry-After; the victim gets at most one `new_follower`
  notification (docs/notifications.md, "Follows").

Server settings: APP_ENV=production with APP_PUBLIC_URL=https://portico.attack.test (only
used in emailed links), a random JWT_SECRET and AUDIT_SIGNING_KEY, the given database,
REDIS_URL when Redis answers, OUTBOX_RELAY_IN_API=true (the notifications of `follow-toggle`
are made by the API process's relay and consumer, as in a single-process deployment), and
RATE_LIMIT_REGISTRATIONS_PER_IP raised so that repeated runs can register their users
(sign-up is not an attack here). Everything else is at its default. The server inherits
the client's open-files limit, raised to the hard limit (as a container's would be).

    make attack
    .venv/bin/python bench/attacks.py --only slow-headers --only ws-unauth
    .venv/bin/python bench/attacks.py --server uvicorn --slow-header-sizes 500,1000

DATABASE_URL picks the PostgreSQL database; unset, a fresh database is created on
`--pg-admin-url` (postgresql://postgres@127.0.0.1:5432/postgres) with psql, migrated, and
dropped at the end. Exit 1 if any target was missed.
"""

import argparse
import resource
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.attacking.bodies import slow_bodies
from bench.attacking.connections import slow_headers
from bench.attacking.follows import follow_toggle
from bench.attacking.frames import big_frames
from bench.attacking.harness import Setup, database, export, redis_reachable
from bench.attacking.measure import BYSTANDER, MB, Result, as_ms
from bench.attacking.sockets import ws_unauth

ATTACKS = ("slow-headers", "ws-unauth", "slow-bodies", "big-frames", "follow-toggle")

# --- main -------------------------------------------------------------------------------------

RUNNERS: dict[str, Callable[[Setup, argparse.Namespace], list[Result]]] = {
    "slow-headers": slow_headers,
    "ws-unauth": ws_unauth,
    "slow-bodies": slow_bodies,
    "big-frames": big_frames,
    "follow-toggle": follow_toggle,
}


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def _setups(text: str) -> list[tuple[str, int]]:
    pairs = [part.partition(":") for part in text.split(",") if part]
    return [(server, int(room or "0")) for server, _, room in pairs]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--only", action="append", choices=ATTACKS, help="repeatable")
    parser.add_argument("--server", choices=("granian", "uvicorn"), default="granian")
    parser.add_argument(
        "--rev", help="serve REV's src (git archive, first on PYTHONPATH) instead of the tree's"
    )
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="'' for none")
    parser.add_argument("--slow-header-sizes", type=_ints, default=[1100, 3000])
    parser.add_argument("--idle-connections", type=int, default=1100)
    parser.add_argument("--header-interval", type=float, default=3.0)
    parser.add_argument("--slow-seconds", type=float, default=15.0)
    parser.add_argument("--ws-sockets", type=int, default=1000)
    parser.add_argument("--ws-seconds", type=float, default=35.0)
    parser.add_argument(
        "--ws-setups",
        type=_setups,
        default=[("granian", 0), ("uvicorn", 1000)],
        help="SERVER:ROOM,... where ROOM is WS_MAX_UNAUTHENTICATED (0: tickets only; "
        "production refuses a room under granian)",
    )
    parser.add_argument("--body-connections", type=int, default=900)
    parser.add_argument("--body-bytes", type=int, default=MB)
    parser.add_argument("--body-seconds", type=float, default=30.0, help="max time to send")
    parser.add_argument("--body-rss-budget-mb", type=float, default=200.0)
    parser.add_argument("--settle-seconds", type=float, default=60.0)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--frame-bytes", type=int, default=16 << 20)
    parser.add_argument("--frame-concurrency", type=int, default=10)
    parser.add_argument(
        "--frame-setups",
        type=_setups,
        default=[("granian", 0), ("uvicorn", 0), ("uvicorn", 1000)],
        help="SERVER:ROOM,... where ROOM is WS_MAX_UNAUTHENTICATED (0: tickets only)",
    )
    parser.add_argument(
        "--bystander",
        default="127.0.0.2",
        help="source address of the probe and the legitimate client (127.0.0.1: the attacker's)",
    )
    parser.add_argument("--follow-toggles", type=int, default=400)
    parser.add_argument("--follow-seconds", type=float, default=10.0)
    parser.add_argument("--follow-settle-seconds", type=float, default=15.0)
    return parser.parse_args(argv)


def main() -> int:
    args = parse_args()
    BYSTANDER[0] = args.bystander
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max([*args.slow_header_sizes, args.idle_connections, args.ws_sockets]) * 2 + 512
    limit = hard if hard == resource.RLIM_INFINITY else max(soft, min(hard, max(wanted, 65536)))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    workdir = Path(tempfile.mkdtemp(prefix="portico-attacks-"))
    redis_url = args.redis_url if args.redis_url and redis_reachable(args.redis_url) else None
    print(
        f"attacks: open files limit {limit} (client and server); Redis {redis_url or 'none'}; "
        f"server logs under {workdir}"
    )
    results: list[Result] = []
    source = export(args.rev, workdir) if args.rev else None
    print(f"attacks: server code from {f'{args.rev} ({source})' if source else 'the working tree'}")
    with database(args.pg_admin_url, workdir, source) as url:
        setup = Setup(database_url=url, redis_url=redis_url, workdir=workdir, source=source)
        for name in args.only or ATTACKS:
            results.extend(RUNNERS[name](setup, args))
    print(
        "\n| attack | server | size | peak RSS (MB, +growth) | CPU | probe p99 | after | target |"
    )
    print("| --- | --- | --- | ---: | ---: | ---: | --- | --- |")
    for r in results:
        u = r.usage
        print(
            f"| {r.name} | {r.server} | {r.size} | {u.peak_rss / MB:.0f} "
            f"(+{(u.peak_rss - u.baseline_rss) / MB:.0f}) | {u.cpu_percent:.0f}% | "
            f"{as_ms(r.probe_p99)} | {'ok' if r.after_ok else 'NOT ok'} | "
            f"{'met' if r.met else 'MISSED'} |"
        )
    missed = [f"{r.name}[{r.server}]" for r in results if not r.met]
    if missed:
        print(f"attacks: missed a target: {', '.join(missed)}")
        return 1
    print("attacks: every target met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
