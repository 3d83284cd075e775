"""The `RealtimeBroadcaster` contract, on the memory adapter and on real Redis pub/sub."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
from loguru import logger

from adapters.inprocess.realtime import InProcessRealtimeBroadcaster
from adapters.redis.client import create_redis_client
from adapters.redis.realtime import RedisRealtimeBroadcaster
from application.common.ports.realtime import RealtimeBroadcaster, RoomMessage
from tests.support.realtime import TIMEOUT, MakeProcess, Process, Proxy, Reader


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


redis_only = pytest.mark.parametrize(
    "backend", [pytest.param("redis", marks=pytest.mark.integration)]
)


@pytest.fixture
async def make_process(backend: str, request: pytest.FixtureRequest) -> AsyncIterator[MakeProcess]:
    """Makes broadcasters that share a unique channel prefix, and closes them afterwards."""
    prefix = f"test:realtime:{uuid.uuid4().hex}:"
    processes: list[Process] = []

    def make() -> Process:
        name = f"tests-realtime-{uuid.uuid4().hex}"
        if backend == "memory":
            process = Process(InProcessRealtimeBroadcaster(), None, prefix, name)
        else:
            client = create_redis_client(
                request.getfixturevalue("redis_url"), timeout_seconds=2, client_name=name
            )
            broadcaster = RedisRealtimeBroadcaster(client, channel_prefix=prefix)
            process = Process(broadcaster, client, prefix, name)
        processes.append(process)
        return process

    yield make
    for process in processes:
        for reader in process.readers:
            await reader.stop()
        await process.broadcaster.close()
        if process.client is not None:
            await process.client.aclose()


@pytest.fixture
def process(make_process: MakeProcess) -> Process:
    return make_process()


@pytest.fixture
def broadcaster(process: Process) -> RealtimeBroadcaster:
    return process.broadcaster


async def test_a_message_published_to_a_joined_room_is_received(process: Process) -> None:
    reader = process.read()
    async with asyncio.timeout(TIMEOUT):
        await process.broadcaster.join("alice")
        await process.broadcaster.publish(RoomMessage("alice", b"\x00any bytes\xff"))
        assert await reader.next() == RoomMessage("alice", b"\x00any bytes\xff")


async def test_join_is_effective_before_anyone_reads(process: Process) -> None:
    async with asyncio.timeout(TIMEOUT):
        await process.broadcaster.join("alice")
        await process.broadcaster.publish(RoomMessage("alice", b"early"))
        reader = process.read()
        assert await reader.next() == RoomMessage("alice", b"early")


async def test_rooms_not_joined_are_not_received(process: Process) -> None:
    reader = process.read()
    async with asyncio.timeout(TIMEOUT):
        await process.broadcaster.join("alice")
        await process.broadcaster.publish(RoomMessage("bob", b"not for us"))
        await process.broadcaster.publish(RoomMessage("alice", b"marker"))
        assert await reader.next() == RoomMessage("alice", b"marker")
        assert reader.received.empty()


async def test_nothing_is_received_after_leave(process: Process) -> None:
    reader = process.read()
    async with asyncio.timeout(TIMEOUT):
        await process.broadcaster.join("alice")
        await process.broadcaster.join("bob")
        await process.broadcaster.publish(RoomMessage("alice", b"before"))
        assert await reader.next() == RoomMessage("alice", b"before")
        await process.broadcaster.leave("alice")
        await process.broadcaster.publish(RoomMessage("alice", b"after"))
        await process.broadcaster.publish(RoomMessage("bob", b"marker"))
        assert await reader.next() == RoomMessage("bob", b"marker")
        assert reader.received.empty()


async def test_a_room_left_and_joined_again_is_received_again(process: Process) -> None:
    reader = process.read()
    async with asyncio.timeout(TIMEOUT):
        await process.broadcaster.join("alice")
        await process.broadcaster.leave("alice")
        await process.broadcaster.join("alice")
        await process.broadcaster.publish(RoomMessage("alice", b"back"))
        assert await reader.next() == RoomMessage("alice", b"back")


async def test_leaving_a_room_never_joined_is_harmless(process: Process) -> None:
    reader = process.read()
    async with asyncio.timeout(TIMEOUT):
        await process.broadcaster.leave("nobody")
        await process.broadcaster.join("alice")
        await process.broadcaster.publish(RoomMessage("alice", b"hello"))
        assert await reader.next() == RoomMessage("alice", b"hello")


async def test_joining_twice_delivers_each_message_once(process: Process) -> None:
    reader = process.read()
    async with asyncio.timeout(TIMEOUT):
        await process.broadcaster.join("alice")
        await process.broadcaster.join("alice")
        await process.broadcaster.join("bob")
        await process.broadcaster.publish(RoomMessage("alice", b"once"))
        await process.broadcaster.publish(RoomMessage("bob", b"marker"))
        assert await reader.next_payloads(2) == [b"once", b"marker"]
        assert reader.received.empty()


async def test_joining_twice_then_leaving_once_leaves(process: Process) -> None:
    reader = process.read()
    async with asyncio.timeout(TIMEOUT):
        await process.broadcaster.join("alice")
        await process.broadcaster.join("alice")
        await process.broadcaster.join("bob")
        await process.broadcaster.leave("alice")
        await process.broadcaster.publish(RoomMessage("alice", b"left"))
        await process.broadcaster.publish(RoomMessage("bob", b"marker"))
        assert await reader.next() == RoomMessage("bob", b"marker")
        assert reader.received.empty()


async def test_concurrent_joins_are_all_effective(process: Process) -> None:
    reader = process.read()
    rooms = [f"room-{n}" for n in range(50)]
    async with asyncio.timeout(TIMEOUT):
        await asyncio.gather(*(process.broadcaster.join(room) for room in [*rooms, *rooms]))
        for room in rooms:
            await process.broadcaster.publish(RoomMessage(room, room.encode()))
        received = [await reader.next() for _ in rooms]
        assert received == [RoomMessage(room, room.encode()) for room in rooms]
        assert reader.received.empty()


async def test_messages_keep_their_publish_order_per_room(process: Process) -> None:
    reader = process.read()
    async with asyncio.timeout(TIMEOUT):
        await process.broadcaster.join("alice")
        await process.broadcaster.join("bob")
        for n in range(100):
            await process.broadcaster.publish(RoomMessage("alice" if n % 3 else "bob", b"%d" % n))
        received = [await reader.next() for _ in range(100)]
    for room in ("alice", "bob"):
        got = [message.payload for message in received if message.room == room]
        assert got == [b"%d" % n for n in range(100) if (room == "alice") == bool(n % 3)]


async def test_publish_many_delivers_every_message_in_order(process: Process) -> None:
    reader = process.read()
    batch = [
        RoomMessage("alice", b"1"),
        RoomMessage("bob", b"not joined"),
        RoomMessage("carol", b"2"),
        RoomMessage("alice", b"3"),
    ]
    async with asyncio.timeout(TIMEOUT):
        await process.broadcaster.join("alice")
        await process.broadcaster.join("carol")
        await process.broadcaster.publish_many([])
        await process.broadcaster.publish_many(batch)
        received = [await reader.next() for _ in range(3)]
        assert received == [batch[0], batch[2], batch[3]]
        assert reader.received.empty()


async def test_close_ends_the_iterator(process: Process) -> None:
    reader = process.read()
    async with asyncio.timeout(TIMEOUT):
        await process.broadcaster.join("alice")
        await process.broadcaster.publish(RoomMessage("alice", b"before"))
        assert await reader.next() == RoomMessage("alice", b"before")
        await process.broadcaster.close()
        await reader.task
        await process.broadcaster.close()


async def test_messages_of_a_closed_broadcaster_ends_at_once(
    broadcaster: RealtimeBroadcaster,
) -> None:
    async with asyncio.timeout(TIMEOUT):
        await broadcaster.join("alice")
        await broadcaster.close()
        assert [message async for message in broadcaster.messages()] == []


@redis_only
async def test_another_process_receives_what_one_publishes(make_process: MakeProcess) -> None:
    publisher, first, second = make_process(), make_process(), make_process()
    first_reader, second_reader = first.read(), second.read()
    async with asyncio.timeout(TIMEOUT):
        await first.broadcaster.join("alice")
        await second.broadcaster.join("alice")
        await publisher.broadcaster.publish(RoomMessage("alice", b"fan-out"))
        await publisher.broadcaster.publish_many([RoomMessage("alice", b"batch")])
        assert await first_reader.next_payloads(2) == [b"fan-out", b"batch"]
        assert await second_reader.next_payloads(2) == [b"fan-out", b"batch"]


@redis_only
async def test_processes_with_other_prefixes_do_not_cross(make_process: MakeProcess) -> None:
    ours = make_process()
    assert ours.client is not None
    theirs = RedisRealtimeBroadcaster(ours.client, channel_prefix=f"other:{uuid.uuid4().hex}:")
    reader = ours.read()
    try:
        async with asyncio.timeout(TIMEOUT):
            await ours.broadcaster.join("alice")
            await theirs.publish(RoomMessage("alice", b"other deployment"))
            await ours.broadcaster.publish(RoomMessage("alice", b"marker"))
            assert await reader.next() == RoomMessage("alice", b"marker")
            assert reader.received.empty()
    finally:
        await theirs.close()


@redis_only
async def test_close_unsubscribes_and_leaves_the_shared_client_open(process: Process) -> None:
    assert process.client is not None
    channel = f"{process.prefix}alice"
    async with asyncio.timeout(TIMEOUT):
        await process.broadcaster.join("alice")
        assert await process.client.pubsub_numsub(channel) == [(channel.encode(), 1)]
        await process.broadcaster.close()
        assert await process.client.pubsub_numsub(channel) == [(channel.encode(), 0)]
        assert await process.client.ping()


@redis_only
async def test_the_reader_reconnects_and_rejoins_after_the_connection_drops(
    make_process: MakeProcess,
) -> None:
    process, publisher = make_process(), make_process()
    warnings: list[str] = []
    sink = logger.add(warnings.append, level="WARNING", format="{message}")
    reader = process.read()
    try:
        async with asyncio.timeout(TIMEOUT):
            await process.broadcaster.join("alice")
            await publisher.broadcaster.publish(RoomMessage("alice", b"before"))
            assert await reader.next() == RoomMessage("alice", b"before")

            await _kill_pubsub_connection_of(process, publisher)
            await process.broadcaster.join("bob")
            await publisher.broadcaster.publish(RoomMessage("bob", b"joined during the outage"))
            assert await reader.next() == RoomMessage("bob", b"joined during the outage")

            await publisher.broadcaster.publish(RoomMessage("alice", b"after"))
            assert await reader.next() == RoomMessage("alice", b"after")
            assert not reader.task.done()
    finally:
        logger.remove(sink)
    assert any("connection lost" in line for line in warnings)


@redis_only
async def test_published_after_a_drop_is_received_once_the_reader_is_back(
    make_process: MakeProcess,
) -> None:
    process, publisher = make_process(), make_process()
    reader = process.read()
    async with asyncio.timeout(TIMEOUT):
        await process.broadcaster.join("alice")
        await _kill_pubsub_connection_of(process, publisher)
        while True:
            await publisher.broadcaster.publish(RoomMessage("alice", b"probe"))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.05):
                    await reader.received.get()
                    break
        await publisher.broadcaster.publish_many(
            [RoomMessage("alice", b"1"), RoomMessage("alice", b"2")]
        )
        first = await reader.next()
        while first.payload == b"probe":
            first = await reader.next()
        assert [first.payload, (await reader.next()).payload] == [b"1", b"2"]


@pytest.fixture
async def proxy(redis_url: str) -> AsyncIterator[Proxy]:
    proxy = Proxy(redis_url)
    yield proxy
    await proxy.close()


@redis_only
async def test_join_waits_until_redis_has_confirmed_the_subscription(
    make_process: MakeProcess, proxy: Proxy
) -> None:
    publisher = make_process()
    proxied_url = await proxy.start()
    client = create_redis_client(proxied_url, timeout_seconds=2, client_name="tests-realtime")
    broadcaster = RedisRealtimeBroadcaster(client, channel_prefix=publisher.prefix)
    reader = Reader(broadcaster)
    try:
        async with asyncio.timeout(TIMEOUT):
            await broadcaster.join("warm-up")
            proxy.hold()
            join = asyncio.create_task(broadcaster.join("alice"))
            await asyncio.sleep(0.2)
            assert not join.done()
            proxy.release()
            await join
            await publisher.broadcaster.publish(RoomMessage("alice", b"right after join"))
            assert await reader.next() == RoomMessage("alice", b"right after join")
    finally:
        await reader.stop()
        await broadcaster.close()
        await client.aclose()


@redis_only
async def test_a_silent_connection_is_detected_and_replaced(
    make_process: MakeProcess, proxy: Proxy
) -> None:
    publisher = make_process()
    proxied_url = await proxy.start()
    client = create_redis_client(proxied_url, timeout_seconds=2, client_name="tests-realtime")
    broadcaster = RedisRealtimeBroadcaster(
        client, channel_prefix=publisher.prefix, keepalive_seconds=0.1
    )
    reader = Reader(broadcaster)
    try:
        async with asyncio.timeout(TIMEOUT):
            await broadcaster.join("alice")
            proxy.black_hole()
            await broadcaster.join("bob")
            await publisher.broadcaster.publish_many(
                [RoomMessage("alice", b"still here"), RoomMessage("bob", b"joined")]
            )
            assert await reader.next_payloads(2) == [b"still here", b"joined"]
    finally:
        await reader.stop()
        await broadcaster.close()
        await client.aclose()


async def _kill_pubsub_connection_of(process: Process, other: Process) -> None:
    """`CLIENT KILL TYPE pubsub` from another client, narrowed to `process` by client name.

    Killing every pub/sub client would also cut other test runs sharing the server.
    """
    assert other.client is not None
    clients = await other.client.client_list(_type="pubsub")
    ids = [entry["id"] for entry in clients if entry["name"] == process.name]
    assert len(ids) == 1, clients
    assert await other.client.client_kill_filter(_id=ids[0], _type="pubsub") == 1
