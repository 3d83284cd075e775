"""Admission to the live channels: the waiting room, handshake tickets, the process-wide cap."""

from collections.abc import AsyncIterator
from uuid import UUID

import pytest

from adapters.inprocess.cache import InProcessCache
from adapters.inprocess.realtime import InProcessRealtimeBroadcaster
from application.common.ports.cache import CacheUnavailableError
from domain.users.values import UserId
from entrypoints.http.realtime.admission import AdmissionRefusedError, WaitingRoom, client_key
from entrypoints.http.realtime.hub import ConnectionHub, ServerFullError
from entrypoints.http.realtime.tickets import LiveTickets, TicketUnavailableError

ADA = UserId(UUID(int=1))
BOB = UserId(UUID(int=2))
LIMITS = {"max_total": 5, "max_per_client": 2}


# --- the waiting room ----------------------------------------------------------------------


def test_one_address_fills_only_its_share_and_others_still_get_in() -> None:
    room = WaitingRoom()
    held = [room.admit("203.0.113.9", **LIMITS) for _ in range(2)]
    with pytest.raises(AdmissionRefusedError, match="from this address"):
        room.admit("203.0.113.9", **LIMITS)
    other = room.admit("198.51.100.7", **LIMITS)
    assert room.total == 3
    assert room.waiting_from("203.0.113.9") == 2
    for place in (*held, other):
        place.release()
    assert room.total == 0
    assert room.waiting_from("203.0.113.9") == 0


def test_the_room_refuses_everyone_once_full() -> None:
    room = WaitingRoom()
    for n in range(5):
        room.admit(f"192.0.2.{n}", **LIMITS)
    with pytest.raises(AdmissionRefusedError, match=r"^too many connections waiting$"):
        room.admit("192.0.2.200", **LIMITS)


def test_a_place_is_released_once_when_its_block_ends_however_it_ends() -> None:
    room = WaitingRoom()
    with pytest.raises(RuntimeError), room.admit("192.0.2.1", **LIMITS) as place:
        raise RuntimeError
    place.release()
    assert room.total == 0
    with room.admit("192.0.2.1", **LIMITS):
        assert room.waiting_from("192.0.2.1") == 1
    assert room.total == 0


def test_an_ipv6_client_counts_by_its_64_and_a_mapped_ipv4_as_itself() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::2")
    assert client_key("2001:db8:1:2::1") != client_key("2001:db8:1:3::1")
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_key("unknown") == "unknown"
    room = WaitingRoom()
    room.admit("2001:db8:1:2::1", **LIMITS)
    room.admit("2001:db8:1:2::2", **LIMITS)
    with pytest.raises(AdmissionRefusedError):
        room.admit("2001:db8:1:2:ffff::3", **LIMITS)


# --- tickets -------------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_ticket_stands_for_its_token_once() -> None:
    tickets = LiveTickets(InProcessCache(), ttl_seconds=30)
    ticket = await tickets.issue("the.access.token")
    assert await tickets.redeem(ticket) == "the.access.token"
    assert await tickets.redeem(ticket) is None


async def test_a_ticket_expires_and_unknown_or_forged_ones_are_refused() -> None:
    clock = _Clock()
    tickets = LiveTickets(InProcessCache(clock=clock), ttl_seconds=30)
    ticket = await tickets.issue("token")
    clock.now = 31
    assert await tickets.redeem(ticket) is None
    assert await tickets.redeem("") is None
    assert await tickets.redeem("x" * 1000) is None
    assert await tickets.redeem(ticket[:-1] + ("A" if ticket[-1] != "A" else "B")) is None


async def test_the_cache_holds_neither_the_ticket_nor_the_token_in_clear() -> None:
    cache = InProcessCache()
    tickets = LiveTickets(cache, ttl_seconds=30)
    ticket = await tickets.issue("secret-token")
    stored = repr(vars(cache))
    assert ticket not in stored
    assert "secret-token" not in stored


class _BrokenCache(InProcessCache):
    async def set(self, key: str, value: bytes, *, ttl_seconds: int) -> None:
        raise CacheUnavailableError("down")

    async def get(self, key: str) -> bytes | None:
        raise CacheUnavailableError("down")


async def test_a_cache_outage_is_told_apart_from_a_bad_ticket() -> None:
    tickets = LiveTickets(_BrokenCache(), ttl_seconds=30)
    with pytest.raises(TicketUnavailableError):
        await tickets.issue("token")
    with pytest.raises(TicketUnavailableError):
        await tickets.redeem("a" * 43)


# --- the process-wide cap ------------------------------------------------------------------


@pytest.fixture
async def hub() -> AsyncIterator[ConnectionHub]:
    broadcaster = InProcessRealtimeBroadcaster()
    hub = ConnectionHub(queue_size=8, max_per_user=5)
    hub.start(broadcaster)
    yield hub
    await hub.stop(grace_seconds=0)
    await broadcaster.close()


async def test_the_hub_refuses_past_the_process_cap_and_frees_a_place_on_detach(
    hub: ConnectionHub,
) -> None:
    first = await hub.attach(ADA, session_id=None, max_live=2)
    await hub.attach(BOB, session_id=None, max_live=2)
    assert hub.live == 2
    with pytest.raises(ServerFullError):
        await hub.attach(ADA, session_id=None, max_live=2)
    hub.detach(first)
    hub.detach(first)
    assert hub.live == 1, "detaching twice frees one place"
    await hub.attach(ADA, session_id=None, max_live=2)
    assert hub.live == 2
