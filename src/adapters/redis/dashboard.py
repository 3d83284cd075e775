"""The dashboard's figures in Redis, shared by every process; and the job stream's depth."""

import json
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from application.common.errors import DependencyUnavailableError
from application.dashboard.ports import (
    GAUGE_SILENCE,
    MINUTES_KEPT,
    SECONDS_KEPT,
    Activity,
    DashboardFigures,
    FigureQuery,
    FigureReport,
    FigureWindow,
    Gauge,
    JobQueueDepth,
    Tally,
)

_LINK_ERRORS = (RedisError, OSError)
_REQUESTS = "r"
_ERRORS = "e"
_LATENCY = "l:"
_ACTIVITY = "a:"
_STALE_GAUGES_SECONDS = 60
"""A process silent this long is assumed gone: its gauges are deleted when next read."""
_MARGIN_SECONDS = 60
_LAG_BOUND = 100_000


def _unavailable(exc: BaseException) -> DependencyUnavailableError:
    return DependencyUnavailableError(
        f"is unavailable ({type(exc).__name__}); try again shortly", field="dashboard"
    )


class RedisDashboardFigures(DashboardFigures):
    """The `DashboardFigures` port in Redis, so every API process and worker adds to one set.

    Keys, under `prefix`:
    - ``s:<second>``, a hash per second: ``r`` requests, ``e`` 5xx answers, ``l:<bucket>``
      latency buckets, ``a:<activity>``; it expires `SECONDS_KEPT` (plus a minute) after
      it was last added to.
    - ``m:<minute>``, a hash per minute of ``a:<activity>``, and ``u:<minute>``, a
      HyperLogLog of the users seen in that minute (distinct counts within 0.81%); both
      expire `MINUTES_KEPT` minutes (plus one) after they were last added to.
    - ``g``, a hash of each process's latest gauges: ``<second> <JSON>``. A process that
      stops deletes its field; a field silent for a minute (a process that died) is deleted
      by the next read, and the hash expires once no process has reported for two hours.

    A report is one pipelined round trip of HINCRBY, PFADD and HSET (no transaction: counts
    only ever add up), a read another; the figures carry no personal data beyond the user
    ids inside the HyperLogLogs, which cannot be read back out.
    """

    def __init__(self, client: "Redis", *, prefix: str = "portico:dashboard:") -> None:
        self._client = client
        self._prefix = prefix

    async def add(self, report: FigureReport) -> None:
        """Add the report in one round trip."""
        pipe = self._client.pipeline(transaction=False)
        second_ttl = SECONDS_KEPT + _MARGIN_SECONDS
        minute_ttl = (MINUTES_KEPT + 1) * 60
        for tally in report.tallies:
            key = f"{self._prefix}s:{tally.second}"
            fields: dict[str, int] = {_REQUESTS: tally.requests, _ERRORS: tally.errors}
            fields.update({f"{_LATENCY}{b}": n for b, n in tally.latency.items()})
            fields.update({f"{_ACTIVITY}{k.value}": n for k, n in tally.activity.items()})
            for name, count in fields.items():
                if count:
                    pipe.hincrby(key, name, count)
            pipe.expire(key, second_ttl)
            if tally.activity:
                minute_key = f"{self._prefix}m:{tally.second // 60}"
                for kind, count in tally.activity.items():
                    pipe.hincrby(minute_key, f"{_ACTIVITY}{kind.value}", count)
                pipe.expire(minute_key, minute_ttl)
        for minute, users in report.active_users.items():
            if users:
                key = f"{self._prefix}u:{minute}"
                pipe.pfadd(key, *sorted(users))
                pipe.expire(key, minute_ttl)
        if report.gauges is not None:
            values = {gauge.value: value for gauge, value in report.gauges.items()}
            pipe.hset(self._gauges_key, report.process, f"{report.second} {json.dumps(values)}")
            pipe.expire(self._gauges_key, minute_ttl)
        try:
            await pipe.execute()
        except _LINK_ERRORS as exc:
            raise _unavailable(exc) from exc

    async def read(self, query: FigureQuery) -> FigureWindow:
        """Read the seconds, minutes, users and gauges in one round trip."""
        pipe = self._client.pipeline(transaction=False)
        seconds = range(query.first_second, query.last_second + 1)
        for second in seconds:
            pipe.hgetall(f"{self._prefix}s:{second}")
        minute = query.now // 60
        minutes = [minute - earlier for earlier in range(query.activity_minutes)]
        for each in minutes:
            pipe.hgetall(f"{self._prefix}m:{each}")
        pipe.pfcount(*(f"{self._prefix}u:{minute - n}" for n in range(query.active_minutes)))
        pipe.hgetall(self._gauges_key)
        try:
            replies: list[Any] = await pipe.execute()
        except _LINK_ERRORS as exc:
            raise _unavailable(exc) from exc
        per_second = [
            _tally(second, reply) for second, reply in zip(seconds, replies, strict=False)
        ]
        activity: dict[Activity, int] = {}
        for reply in replies[len(seconds) : len(seconds) + len(minutes)]:
            for kind, count in _activity(reply).items():
                activity[kind] = activity.get(kind, 0) + count
        active_users, reported = replies[-2], replies[-1]
        gauges, processes, stale = _gauges(reported, now=query.now)
        if stale:
            try:
                await self._client.hdel(self._gauges_key, *stale)
            except _LINK_ERRORS as exc:
                raise _unavailable(exc) from exc
        return FigureWindow(
            seconds=per_second,
            activity=activity,
            active_users=int(active_users),
            gauges=gauges,
            processes=processes,
        )

    async def forget(self, process: str) -> None:
        """Delete the process's gauges."""
        try:
            await self._client.hdel(self._gauges_key, process)
        except _LINK_ERRORS as exc:
            raise _unavailable(exc) from exc

    @property
    def _gauges_key(self) -> str:
        return f"{self._prefix}g"


def _fields(reply: Mapping[bytes, bytes]) -> dict[str, int]:
    return {name.decode(): int(value) for name, value in reply.items()}


def _activity(reply: Mapping[bytes, bytes]) -> dict[Activity, int]:
    found: dict[Activity, int] = {}
    for name, count in _fields(reply).items():
        if name.startswith(_ACTIVITY):
            kind = name.removeprefix(_ACTIVITY)
            if kind in Activity.__members__.values():
                found[Activity(kind)] = count
    return found


def _tally(second: int, reply: Mapping[bytes, bytes]) -> Tally:
    fields = _fields(reply)
    return Tally(
        second=second,
        requests=fields.get(_REQUESTS, 0),
        errors=fields.get(_ERRORS, 0),
        latency={
            int(name.removeprefix(_LATENCY)): count
            for name, count in fields.items()
            if name.startswith(_LATENCY)
        },
        activity=_activity(reply),
    )


def _gauges(
    reported: Mapping[bytes, bytes], *, now: int
) -> tuple[dict[Gauge, int], int, list[bytes]]:
    """The gauges summed over the live processes, how many those are, and the stale fields."""
    gauges: dict[Gauge, int] = {}
    processes = 0
    stale: list[bytes] = []
    known = set(Gauge.__members__.values())
    for process, value in reported.items():
        second, _, encoded = value.decode().partition(" ")
        age = now - int(second)
        if age > _STALE_GAUGES_SECONDS:
            stale.append(process)
        if age > GAUGE_SILENCE:
            continue
        processes += 1
        for name, count in json.loads(encoded).items():
            if name in known:
                gauges[Gauge(name)] = gauges.get(Gauge(name), 0) + int(count)
    return gauges, processes, stale


class RedisJobQueueDepth(JobQueueDepth):
    """The `JobQueueDepth` port over the Redis stream the job queue uses.

    The depth is what the workers' consumer group has not acknowledged: its pending entries
    (delivered, running or abandoned) plus its lag (not yet delivered). Before any worker
    made the group, every entry of the stream waits; without the stream, nothing does.
    """

    def __init__(self, client: "Redis", *, stream: str, group: str) -> None:
        self._client = client
        self._stream = stream
        self._group = group.encode()

    async def depth(self) -> int:
        """Ask Redis for the group's pending entries and lag."""
        try:
            try:
                groups: list[dict[str, Any]] = await self._client.xinfo_groups(self._stream)
            except ResponseError as exc:
                if "no such key" in str(exc):
                    return 0
                raise
            for group in groups:
                if group.get("name") == self._group:
                    return await self._unfinished(group)
            return int(await self._client.xlen(self._stream))
        except _LINK_ERRORS as exc:
            raise _unavailable(exc) from exc

    async def _unfinished(self, group: Mapping[str, Any]) -> int:
        pending = int(group.get("pending") or 0)
        lag = group.get("lag")
        if lag is None:
            # Redis cannot tell the lag after entries were deleted: count what follows
            # the last delivered entry instead, up to a bound.
            after = b"(" + bytes(group.get("last-delivered-id") or b"0-0")
            following = await self._client.xrange(self._stream, min=after, count=_LAG_BOUND)
            lag = len(following or ())
        return pending + int(lag)
