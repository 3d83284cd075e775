"""Sign-in lockout without denial of service: device tokens, per-client and per-account limits."""

from dataclasses import replace
from datetime import timedelta

import pytest

from application.common.errors import InvalidCredentialsError, TooManyRequestsError
from application.common.ports.rate_limits import RateLimit
from application.users.authenticated_user import SignedIn
from application.users.log_in import LogInCommand
from application.users.session_policy import ClientInfo
from tests.support.users import UsersWorld

RIGHT = "password123"
WRONG = "wrong-password"


@pytest.fixture
async def world() -> UsersWorld:
    world = UsersWorld()
    await world.register("ada")
    await world.register("bob")
    return world


async def sign_in(
    world: UsersWorld,
    password: str = RIGHT,
    *,
    ip: str = "198.51.100.1",
    device: str | None = None,
    name: str = "ada",
) -> SignedIn:
    return await world.log_in()(
        LogInCommand(
            email=f"{name}@test.com",
            password=password,
            client=ClientInfo(device="browser", ip=ip),
            device_token=device,
        )
    )


async def outcome(
    world: UsersWorld,
    password: str = RIGHT,
    *,
    ip: str = "198.51.100.1",
    device: str | None = None,
    name: str = "ada",
) -> str:
    try:
        await sign_in(world, password, ip=ip, device=device, name=name)
    except InvalidCredentialsError:
        return "401"
    except TooManyRequestsError:
        return "429"
    return "200"


async def test_a_sign_in_hands_out_a_new_device_token_each_time(world: UsersWorld) -> None:
    first = await sign_in(world)
    second = await sign_in(world, device=first.device_token)
    assert first.device_token
    assert second.device_token != first.device_token
    assert first.device_token not in repr(first)


async def test_the_owners_known_device_signs_in_after_thousands_of_failures_elsewhere(
    world: UsersWorld,
) -> None:
    known = (await sign_in(world, ip="203.0.113.7")).device_token
    attacks = [await outcome(world, WRONG, ip="192.0.2.66") for _ in range(2_000)]
    assert attacks.count("401") == 10
    assert attacks.count("429") == 1_990
    spread = [await outcome(world, WRONG, ip=f"10.0.{i // 250}.{i % 250}") for i in range(300)]
    assert spread.count("401") == 90  # the per-account budget left after the first 10
    assert spread.count("429") == 210
    owner = await sign_in(world, ip="192.0.2.66", device=known)
    assert owner.username == "ada"


async def test_one_client_is_strictly_limited_per_account_and_ip(world: UsersWorld) -> None:
    for _ in range(10):
        assert await outcome(world, WRONG, ip="192.0.2.1") == "401"
    with pytest.raises(TooManyRequestsError) as caught:
        await sign_in(world, ip="192.0.2.1")
    assert 1 <= caught.value.retry_after_seconds <= 90
    assert await outcome(world, ip="192.0.2.2") == "200"
    assert await outcome(world, ip="192.0.2.1", name="bob") == "200"
    world.clock.advance(timedelta(minutes=15))
    assert await outcome(world, ip="192.0.2.1") == "200"


async def test_untrusted_clients_together_are_slowed_down_not_shut_out(
    world: UsersWorld,
) -> None:
    world.throttle = replace(world.throttle, untrusted=RateLimit(limit=20, window_seconds=3_600))
    results = [await outcome(world, WRONG, ip=f"192.0.2.{i}") for i in range(1, 41)]
    assert results == ["401"] * 20 + ["429"] * 20
    with pytest.raises(TooManyRequestsError) as caught:
        await sign_in(world, ip="198.51.100.200")
    assert caught.value.retry_after_seconds == 180  # one attempt per 3600 / 20 seconds
    world.clock.advance(timedelta(seconds=180))
    assert await outcome(world, WRONG, ip="198.51.100.201") == "401"
    assert await outcome(world, WRONG, ip="198.51.100.202") == "429"
    world.clock.advance(timedelta(seconds=180))
    assert await outcome(world, ip="198.51.100.203") == "200"


async def test_a_known_device_is_not_counted_against_untrusted_clients(
    world: UsersWorld,
) -> None:
    world.throttle = replace(world.throttle, untrusted=RateLimit(limit=5, window_seconds=3_600))
    known = (await sign_in(world)).device_token
    for _ in range(9):
        assert await outcome(world, WRONG, device=known) == "401"
    assert await outcome(world, WRONG, ip="192.0.2.9") == "401"
    assert await outcome(world, device=known) == "200"


async def test_a_known_device_is_itself_limited_strictly(world: UsersWorld) -> None:
    known = (await sign_in(world)).device_token
    for _ in range(10):
        assert await outcome(world, WRONG, ip="192.0.2.1", device=known) == "401"
    assert await outcome(world, ip="192.0.2.2", device=known) == "429"
    assert await outcome(world, ip="192.0.2.3") == "200"


async def test_only_a_live_token_of_this_account_is_trusted(world: UsersWorld) -> None:
    bobs = (await sign_in(world, name="bob")).device_token
    adas = (await sign_in(world)).device_token
    for device in (bobs, "device-999", "forged"):
        for _ in range(10):
            await outcome(world, WRONG, ip="192.0.2.1")
        assert await outcome(world, ip="192.0.2.1", device=device) == "429"
        world.clock.advance(timedelta(minutes=15))
    world.clock.advance(timedelta(days=365))
    for _ in range(10):
        await outcome(world, WRONG, ip="192.0.2.1")
    assert await outcome(world, ip="192.0.2.1", device=adas) == "429"


async def test_an_attempt_refused_by_the_account_limit_gives_back_its_client_count(
    world: UsersWorld,
) -> None:
    world.throttle = replace(
        world.throttle,
        per_client=RateLimit(limit=3, window_seconds=900),
        untrusted=RateLimit(limit=5, window_seconds=3_600),
    )
    for i in range(5):
        assert await outcome(world, WRONG, ip=f"192.0.2.{i}") == "401"
    for _ in range(10):
        with pytest.raises(TooManyRequestsError) as caught:
            await sign_in(world, WRONG, ip="192.0.2.99")
    assert caught.value.retry_after_seconds == 720  # the account's limit, not the client's


async def test_an_unknown_email_is_limited_like_a_real_one(world: UsersWorld) -> None:
    results = [await outcome(world, WRONG, ip="192.0.2.1", name="nobody") for _ in range(12)]
    assert results == ["401"] * 10 + ["429"] * 2
