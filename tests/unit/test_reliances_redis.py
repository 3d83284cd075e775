"""redis-py: the pub/sub connection, the protocol setting and the URL parser.

What each failure says, and what to do then: tests/support/reliance.py.
"""

from typing import Any

from tests.support.reliance import Reliance

# --- redis-py ------------------------------------------------------------------------------


def test_redis_py_parse_url_is_importable_and_refuses_a_bad_url_with_value_error() -> None:
    """The loader validates REDIS_URL with redis-py's (undocumented) module-level parser."""
    with Reliance("redis", where="entrypoints/config/loader.py (_check_addresses)") as redis:
        from redis.asyncio.connection import parse_url  # noqa: PLC0415 - under the reliance

        parsed = parse_url("redis://cache.internal:6380/2")
        redis.check(
            (parsed.get("host"), parsed.get("port"), parsed.get("db"))
            == ("cache.internal", 6380, 2),
            f"redis.asyncio.connection.parse_url returned {parsed!r} for a valid URL",
        )
        for bad in ("redis://cache.internal:port", "redis://h/0?socket_timeout=soon"):
            try:
                parse_url(bad)
            except ValueError:
                continue
            redis.fail(f"redis.asyncio.connection.parse_url({bad!r}) no longer raises ValueError")


async def test_redis_py_check_protocol_version_reads_an_unset_protocol_as_the_default() -> None:
    """The realtime broadcaster picks its push handling from the pool's protocol setting."""
    with Reliance(
        "redis", where="adapters/redis/realtime.py (RedisRealtimeBroadcaster.__init__)"
    ) as redis:
        from redis.asyncio import Redis  # noqa: PLC0415 - under the reliance
        from redis.utils import (  # noqa: PLC0415 - under the reliance
            DEFAULT_RESP_VERSION,
            check_protocol_version,
        )

        for protocol, expected in ((3, True), ("3", True), (2, False), ("2", False)):
            redis.check(
                check_protocol_version(protocol, 3) is expected,
                f"redis.utils.check_protocol_version({protocol!r}, 3) is no longer {expected}",
            )
        redis.check(
            check_protocol_version(None, 3) is (DEFAULT_RESP_VERSION == 3),
            "redis.utils.check_protocol_version(None, 3) no longer follows DEFAULT_RESP_VERSION",
        )
        cases: list[tuple[dict[str, Any], int | None]] = [
            ({}, None),
            ({"protocol": 2}, 2),
            ({"protocol": 3}, 3),
        ]
        for kwargs, expected_protocol in cases:
            client = Redis.from_url("redis://127.0.0.1:1/0", **kwargs)
            found = client.connection_pool.get_protocol()  # type: ignore[no-untyped-call]
            await client.aclose()
            redis.check(
                found == expected_protocol,
                f"ConnectionPool.get_protocol() returned {found!r} for a client made with "
                f"{kwargs!r}, not {expected_protocol!r}",
            )
