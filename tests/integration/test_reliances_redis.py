"""Library reliances that need a real server: redis-py and taskiq-redis against Redis.

What each failure says, and what to do then: tests/support/reliance.py.
"""

import asyncio
import contextlib
import uuid
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.utils import check_protocol_version
from taskiq import BrokerMessage

from adapters.redis.realtime import RedisRealtimeBroadcaster
from adapters.taskiq.queue import create_broker
from application.common.ports.realtime import RoomMessage
from tests.support.reliance import Reliance

pytestmark = pytest.mark.integration

TIMEOUT = 10.0
REALTIME = "adapters/redis/realtime.py (RedisRealtimeBroadcaster)"


# --- redis-py ------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [None, 2, 3], ids=["default", "resp2", "resp3"])
async def test_redis_py_pubsub_connection_reads_frames_the_way_the_broadcaster_expects(
    redis_url: str, protocol: int | None
) -> None:
    """The broadcaster writes and reads the pub/sub connection itself, below `PubSub`."""
    options: dict[str, Any] = {} if protocol is None else {"protocol": protocol}
    client = Redis.from_url(redis_url, **options)
    channel = f"reliance:{uuid.uuid4().hex}".encode()
    pushed: list[Any] = []

    async def keep(frame: Any) -> Any:
        pushed.append(frame)
        return frame

    try:
        with Reliance("redis", where=REALTIME) as redis:
            resp3 = check_protocol_version(client.connection_pool.get_protocol(), 3)  # type: ignore[no-untyped-call]
            pubsub = client.pubsub(push_handler_func=keep if resp3 else None)
            await pubsub.connect()  # type: ignore[no-untyped-call]
            # redis-py leaves the attribute unannotated, so mypy infers it as always None.
            connection: AbstractConnection | None = pubsub.connection
            redis.check(
                isinstance(connection, AbstractConnection) and connection.is_connected,
                f"PubSub.connect() left PubSub.connection as {connection!r}",
            )
            assert isinstance(connection, AbstractConnection)
            redis.check(
                resp3 == (str(connection.protocol) == "3"),
                f"check_protocol_version(pool.get_protocol(), 3) says {resp3}, but the "
                f"connection speaks RESP{connection.protocol}",
            )

            async def read(wait_seconds: float = TIMEOUT) -> Any:
                return await connection.read_response(
                    disable_decoding=True,
                    timeout=wait_seconds,
                    disconnect_on_error=False,
                    push_request=True,
                )

            await connection.send_command("SUBSCRIBE", channel, check_health=False)
            frame = await read()
            redis.check(
                type(frame) is list and frame == [b"subscribe", channel, 1],
                f"a SUBSCRIBE confirmation now reads as {frame!r}",
            )
            try:
                quiet = await read(0.05)
            except TimeoutError as exc:
                redis.fail(
                    "read_response(timeout=...) with nothing to read now raises "
                    f"{type(exc).__name__} instead of returning None"
                )
            redis.check(
                quiet is None and connection.is_connected,
                f"read_response(timeout=...) with nothing to read now returns {quiet!r} "
                f"(connected: {connection.is_connected}) instead of None on a live connection",
            )
            await client.publish(channel, b"payload")
            frame = await read()
            redis.check(
                type(frame) is list and frame == [b"message", channel, b"payload"],
                f"a published message now reads as {frame!r}",
            )
            if resp3:
                redis.check(
                    len(pushed) == 2 and pushed[-1] is frame,
                    "under RESP3 read_response(push_request=True) no longer returns what "
                    f"the PubSub's push_handler_func returned (handler saw {pushed!r})",
                )
            await connection.send_command("PING", check_health=False)
            redis.check(await read() is not None, "a PING on the pub/sub connection got no reply")
            await connection.disconnect(nowait=True)
            redis.check(not connection.is_connected, "disconnect(nowait=True) left it connected")
            await pubsub.connect()  # type: ignore[no-untyped-call]
            reconnected: AbstractConnection | None = pubsub.connection
            redis.check(
                reconnected is connection and connection.is_connected,
                "PubSub.connect() after a disconnect no longer reconnects the same connection",
            )
            await connection.send_command("SUBSCRIBE", channel, check_health=False)
            frame = await read()
            redis.check(
                frame == [b"subscribe", channel, 1],
                f"a SUBSCRIBE after reconnecting now reads as {frame!r}",
            )
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            redis.check(
                pubsub.connection is None,
                "PubSub.aclose() no longer releases the connection to the pool",
            )
    finally:
        await client.aclose()


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
async def test_redis_py_serves_the_broadcaster_on_either_protocol(
    redis_url: str, protocol: int
) -> None:
    """The broadcaster end to end, on both wire protocols it branches on."""
    client = Redis.from_url(redis_url, protocol=protocol)
    broadcaster = RedisRealtimeBroadcaster(
        client, channel_prefix=f"reliance:{uuid.uuid4().hex}:", keepalive_seconds=0.2
    )
    received: asyncio.Queue[RoomMessage] = asyncio.Queue()

    async def drain() -> None:
        async for message in broadcaster.messages():
            received.put_nowait(message)

    reader = asyncio.create_task(drain())
    try:
        with Reliance("redis", where=REALTIME) as redis:
            try:
                async with asyncio.timeout(TIMEOUT):
                    await broadcaster.join("room")
            except TimeoutError:
                redis.fail(f"the broadcaster's SUBSCRIBE was never confirmed over RESP{protocol}")
            await asyncio.sleep(0.5)  # past a keepalive PING and its reply
            await broadcaster.publish(RoomMessage(room="room", payload=b"one"))
            try:
                async with asyncio.timeout(TIMEOUT):
                    message = await received.get()
            except TimeoutError:
                redis.fail(f"the broadcaster received nothing over RESP{protocol}")
            redis.check(
                message == RoomMessage(room="room", payload=b"one"),
                f"the broadcaster received {message!r} over RESP{protocol}",
            )
    finally:
        await broadcaster.close()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await client.aclose()


# --- taskiq-redis --------------------------------------------------------------------------


async def test_taskiq_redis_private_ack_and_stream_layout_serve_the_reclaiming_listen(
    redis_url: str,
) -> None:
    """The reclaiming `listen` reads jobs from `data` fields and acks with `_ack_generator`."""
    stream, group = f"reliance:jobs:{uuid.uuid4().hex}", "reliance"
    broker = create_broker(
        redis_url, stream=stream, group=group, redeliver_after_seconds=0.05, prefetch=5
    )
    client = Redis.from_url(redis_url)
    listening = broker.listen()
    try:
        with Reliance(
            "taskiq-redis", where="adapters/taskiq/queue.py (ReclaimingRedisStreamBroker)"
        ) as taskiq_redis:
            await broker.startup()
            await broker.kick(
                BrokerMessage(task_id="1", task_name="job", message=b"first", labels={})
            )
            entries = await client.xrange(stream)
            taskiq_redis.check(
                [fields for _, fields in entries or []] == [{b"data": b"first"}],
                f"RedisStreamBroker.kick now writes stream entries {entries!r}",
            )
            abandoned = await client.xreadgroup(group, "dead-worker", {stream: ">"}, count=1)
            taskiq_redis.check(abandoned, "startup() no longer created the consumer group")
            await asyncio.sleep(0.1)
            async with asyncio.timeout(TIMEOUT):
                message = await anext(listening)
            taskiq_redis.check(
                message.data == b"first",
                f"the reclaimed job reads as {message.data!r}",
            )
            await message.ack()  # type: ignore[misc]
            pending = await client.xpending(stream, group)
            taskiq_redis.check(
                pending["pending"] == 0,
                f"RedisStreamBroker._ack_generator's ack left {pending['pending']} jobs pending",
            )
    finally:
        await listening.aclose()
        await client.delete(stream)
        await client.aclose()
        await broker.shutdown()
