"""Ending sessions closes their live channels: the closer, the hub, and the use cases.

On the in-memory broadcaster and unit of work. The test joins the user's room on the
broadcaster to read what was published, or starts a real `ConnectionHub` on it and
watches the connections' `ended` events.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from uuid import UUID

import pytest

from adapters.inprocess.realtime import InProcessRealtimeBroadcaster
from application.common.errors import NotFoundError
from application.common.ports.realtime import RoomMessage, user_room
from application.users.authenticated_user import AuthenticatedUser
from application.users.ban_user import BanUser, BanUserCommand
from application.users.live_sessions import (
    SESSIONS_ENDED_PREFIX,
    LiveSessionCloser,
    SessionsEnded,
    read_sessions_ended,
    sessions_ended_message,
)
from application.users.log_in import LogInCommand
from application.users.log_out import LogOutCommand
from application.users.log_out_all import LogOutAllCommand
from application.users.revoke_session import RevokeSessionCommand
from application.users.session_policy import ClientInfo
from application.users.unban_user import UnbanUser, UnbanUserCommand
from domain.users.values import UserId
from entrypoints.http.realtime.hub import ConnectionHub, LiveConnection
from tests.support.users import UsersWorld

ADA = UserId(UUID(int=1))
BOB = UserId(UUID(int=2))
LAPTOP, PHONE, TABLET = UUID(int=11), UUID(int=12), UUID(int=13)
DELIVERY_SECONDS = 1.0


def notification(user_id: UserId, text: str) -> RoomMessage:
    """A payload shaped like a notification, whose content mentions the control type."""
    body = '{"type":"new_notification","data":{"kind":"sessions_ended","n":"' + text + '"}}'
    return RoomMessage(room=user_room(user_id), payload=body.encode())


async def published(broadcaster: InProcessRealtimeBroadcaster) -> list[RoomMessage]:
    """What the broadcaster has queued for its reader so far, without waiting for more."""
    received: list[RoomMessage] = []
    reader = broadcaster.messages()
    while True:
        try:
            received.append(await asyncio.wait_for(anext(reader), timeout=0.05))
        except TimeoutError:
            return received


# --- the control message -------------------------------------------------------------------


def test_the_control_message_round_trips_and_starts_with_its_prefix() -> None:
    ended = SessionsEnded(sessions=frozenset({LAPTOP, PHONE}))
    message = sessions_ended_message(ADA, ended)
    assert message.room == user_room(ADA)
    assert message.payload.startswith(SESSIONS_ENDED_PREFIX)
    assert read_sessions_ended(message.payload) == ended
    everything_but = SessionsEnded(keep=TABLET)
    assert read_sessions_ended(sessions_ended_message(ADA, everything_but).payload) == (
        everything_but
    )


def test_a_notification_is_never_read_as_a_control_message() -> None:
    assert read_sessions_ended(notification(ADA, "x").payload) is None
    assert read_sessions_ended(b'{"data":{"type":"sessions_ended"}}') is None


def test_an_unreadable_control_message_ends_every_session() -> None:
    ended = read_sessions_ended(SESSIONS_ENDED_PREFIX + b',"sessions":["not-a-uuid"]}')
    assert ended == SessionsEnded()
    assert ended.ends(LAPTOP)
    assert ended.ends(None)


def test_which_sessions_a_control_message_ends() -> None:
    named = SessionsEnded(sessions=frozenset({LAPTOP}))
    assert named.ends(LAPTOP)
    assert not named.ends(PHONE)
    assert not named.ends(None)
    all_but_one = SessionsEnded(keep=PHONE)
    assert all_but_one.ends(LAPTOP)
    assert all_but_one.ends(None)
    assert not all_but_one.ends(PHONE)
    assert SessionsEnded().ends(PHONE)


# --- the closer ----------------------------------------------------------------------------


@pytest.fixture
async def world() -> AsyncIterator[UsersWorld]:
    world = UsersWorld()
    yield world
    await world.broadcaster.close()


async def test_the_closer_publishes_only_once_the_transaction_commits(
    world: UsersWorld,
) -> None:
    await world.broadcaster.join(user_room(ADA))
    uow = world.uow()
    async with uow:
        world.live_sessions.end_after_commit(uow, ADA, sessions=[LAPTOP])
        assert await published(world.broadcaster) == []
        await uow.commit()
    (message,) = await published(world.broadcaster)
    assert read_sessions_ended(message.payload) == SessionsEnded(sessions=frozenset({LAPTOP}))


async def test_a_rollback_publishes_nothing(world: UsersWorld) -> None:
    await world.broadcaster.join(user_room(ADA))
    uow = world.uow()
    async with uow:
        world.live_sessions.end_after_commit(uow, ADA, keep=PHONE)
    async with uow:
        await uow.commit()
    assert await published(world.broadcaster) == []


async def test_no_session_named_publishes_nothing(world: UsersWorld) -> None:
    await world.broadcaster.join(user_room(ADA))
    uow = world.uow()
    async with uow:
        world.live_sessions.end_after_commit(uow, ADA, sessions=[])
        await uow.commit()
    assert await published(world.broadcaster) == []


class BrokenBroadcaster(InProcessRealtimeBroadcaster):
    """Redis is down: every publish fails."""

    async def publish(self, message: RoomMessage) -> None:
        raise ConnectionError("redis is down")

    async def publish_many(self, messages: Sequence[RoomMessage]) -> None:
        raise ConnectionError("redis is down")


async def test_a_failed_publish_is_logged_and_the_commit_stands(
    world: UsersWorld, caplog: pytest.LogCaptureFixture
) -> None:
    closer = LiveSessionCloser(BrokenBroadcaster())
    uow = world.uow()
    with caplog.at_level(logging.ERROR, logger="application.users.live_sessions"):
        async with uow:
            world.database.table("marks")["done"] = True
            closer.end_after_commit(uow, ADA)
            await uow.commit()
    assert world.database.table("marks") == {"done": True}
    (record,) = [r for r in caplog.records if r.name == "application.users.live_sessions"]
    assert "close the live channels" in record.getMessage()
    assert record.exc_info is not None


# --- the hub -------------------------------------------------------------------------------


@pytest.fixture
async def hub() -> AsyncIterator[tuple[ConnectionHub, InProcessRealtimeBroadcaster]]:
    broadcaster = InProcessRealtimeBroadcaster()
    hub = ConnectionHub(queue_size=8, max_per_user=5)
    hub.start(broadcaster)
    yield hub, broadcaster
    await hub.stop(grace_seconds=0)
    await broadcaster.close()


async def received(connection: LiveConnection) -> str:
    return await asyncio.wait_for(connection.queue.get(), timeout=DELIVERY_SECONDS)


async def test_the_hub_ends_only_the_named_sessions_connections(
    hub: tuple[ConnectionHub, InProcessRealtimeBroadcaster],
) -> None:
    connections, broadcaster = hub
    laptop = await connections.attach(ADA, session_id=LAPTOP)
    phone = await connections.attach(ADA, session_id=PHONE)
    bobs = await connections.attach(BOB, session_id=LAPTOP)
    closer = LiveSessionCloser(broadcaster)
    uow = UsersWorld().uow()
    async with uow:
        closer.end_after_commit(uow, ADA, sessions=[LAPTOP])
        await uow.commit()
    await asyncio.wait_for(laptop.ended.wait(), timeout=DELIVERY_SECONDS)
    await broadcaster.publish(notification(ADA, "after"))
    assert '"after"' in await received(phone)
    assert not phone.ended.is_set()
    assert '"after"' in laptop.queue.get_nowait(), "the control message is never forwarded"
    assert phone.queue.empty()
    assert not bobs.ended.is_set()
    assert bobs.queue.empty()


async def test_the_hub_ends_every_session_but_the_one_kept(
    hub: tuple[ConnectionHub, InProcessRealtimeBroadcaster],
) -> None:
    connections, broadcaster = hub
    laptop = await connections.attach(ADA, session_id=LAPTOP)
    phone = await connections.attach(ADA, session_id=PHONE)
    tablet = await connections.attach(ADA, session_id=TABLET)
    await broadcaster.publish(sessions_ended_message(ADA, SessionsEnded(keep=PHONE)))
    await asyncio.wait_for(laptop.ended.wait(), timeout=DELIVERY_SECONDS)
    await asyncio.wait_for(tablet.ended.wait(), timeout=DELIVERY_SECONDS)
    await broadcaster.publish(notification(ADA, "still here"))
    assert '"still here"' in await received(phone)
    assert not phone.ended.is_set()


async def test_the_hub_follows_a_connection_to_its_new_session(
    hub: tuple[ConnectionHub, InProcessRealtimeBroadcaster],
) -> None:
    connections, broadcaster = hub
    socket = await connections.attach(ADA, session_id=LAPTOP)
    socket.session_id = PHONE
    ended = SessionsEnded(sessions=frozenset({LAPTOP}))
    await broadcaster.publish(sessions_ended_message(ADA, ended))
    await broadcaster.publish(notification(ADA, "after"))
    assert '"after"' in await received(socket)
    assert not socket.ended.is_set()
    await broadcaster.publish(
        sessions_ended_message(ADA, SessionsEnded(sessions=frozenset({PHONE})))
    )
    await asyncio.wait_for(socket.ended.wait(), timeout=DELIVERY_SECONDS)


# --- the use cases -------------------------------------------------------------------------


async def sign_in(world: UsersWorld, device: str) -> AuthenticatedUser:
    return await world.log_in()(
        LogInCommand(
            email="ada@test.com",
            password="password123",
            client=ClientInfo(device=device, ip="10.0.0.1"),
        )
    )


async def ended_by(world: UsersWorld, user_id: UserId) -> list[SessionsEnded]:
    messages = await published(world.broadcaster)
    assert all(message.room == user_room(user_id) for message in messages)
    return [ended for m in messages if (ended := read_sessions_ended(m.payload)) is not None]


@pytest.fixture
async def signed_in(world: UsersWorld) -> tuple[UsersWorld, AuthenticatedUser, UUID]:
    """Ada on a laptop and a phone, with the test listening to her room."""
    await world.register("ada")
    laptop = await sign_in(world, "laptop")
    phone = world.identity_of(await sign_in(world, "phone")).session_id
    assert phone is not None
    await world.broadcaster.join(user_room(world.identity_of(laptop).user_id))
    return world, laptop, phone


async def test_log_out_ends_the_live_channels_of_its_session(
    signed_in: tuple[UsersWorld, AuthenticatedUser, UUID],
) -> None:
    world, laptop, _ = signed_in
    me = world.identity_of(laptop)
    assert me.session_id is not None
    await world.log_out()(LogOutCommand(actor=me))
    assert await ended_by(world, me.user_id) == [SessionsEnded(sessions=frozenset({me.session_id}))]


async def test_log_out_all_ends_the_live_channels_of_every_session(
    signed_in: tuple[UsersWorld, AuthenticatedUser, UUID],
) -> None:
    world, laptop, phone = signed_in
    me = world.identity_of(laptop)
    await world.log_out_all()(LogOutAllCommand(actor=me))
    (ended,) = await ended_by(world, me.user_id)
    assert ended.ends(me.session_id)
    assert ended.ends(phone)


async def test_revoking_a_session_ends_only_its_live_channels(
    signed_in: tuple[UsersWorld, AuthenticatedUser, UUID],
) -> None:
    world, laptop, phone = signed_in
    me = world.identity_of(laptop)
    await world.revoke_session()(RevokeSessionCommand(actor=me, session_id=phone))
    (ended,) = await ended_by(world, me.user_id)
    assert ended.ends(phone)
    assert not ended.ends(me.session_id)


async def test_revoking_someone_elses_session_publishes_nothing(
    signed_in: tuple[UsersWorld, AuthenticatedUser, UUID],
) -> None:
    world, _, phone = signed_in
    bob = world.identity_of(await world.register("bob"))
    await world.broadcaster.join(user_room(bob.user_id))
    with pytest.raises(NotFoundError):
        await world.revoke_session()(RevokeSessionCommand(actor=bob, session_id=phone))
    assert await published(world.broadcaster) == []


async def test_a_ban_ends_the_live_channels_of_every_session(
    signed_in: tuple[UsersWorld, AuthenticatedUser, UUID],
) -> None:
    world, laptop, phone = signed_in
    ban = BanUser(world.uow(), world.users, world.sessions, world.clock, world.live_sessions)
    await ban(BanUserCommand(username="ada"))
    me = world.identity_of(laptop)
    (ended,) = await ended_by(world, me.user_id)
    assert ended.ends(me.session_id)
    assert ended.ends(phone)


async def test_lifting_a_ban_ends_nothing(
    signed_in: tuple[UsersWorld, AuthenticatedUser, UUID],
) -> None:
    world, laptop, _ = signed_in
    unban = UnbanUser(world.uow(), world.users, world.clock)
    await unban(UnbanUserCommand(username="ada"))
    assert await ended_by(world, world.identity_of(laptop).user_id) == []
