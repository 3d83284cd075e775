"""A rotated refresh token repeated within the grace period, by the client that rotated it."""

import logging
from datetime import timedelta

import pytest

from application.common.errors import AuthenticationRequiredError
from application.users.authenticated_user import AuthenticatedUser
from application.users.log_in import LogInCommand
from application.users.refresh_session import RefreshSessionCommand
from application.users.session_policy import ClientInfo, SessionPolicy
from domain.users.session import Session
from tests.support.users import UsersWorld

TAB = ClientInfo(device="Firefox/130", ip="10.0.0.1")
GRACE = timedelta(seconds=5)


@pytest.fixture
async def world() -> UsersWorld:
    world = UsersWorld()
    await world.register("ada")
    return world


async def sign_in(world: UsersWorld) -> AuthenticatedUser:
    return await world.log_in()(
        LogInCommand(email="ada@test.com", password="password123", client=TAB)
    )


async def refresh(
    world: UsersWorld, token: str | None, client: ClientInfo = TAB
) -> AuthenticatedUser:
    assert token is not None
    return await world.refresh_session()(RefreshSessionCommand(refresh_token=token, client=client))


async def session_of(world: UsersWorld, result: AuthenticatedUser) -> Session:
    session_id = world.identity_of(result).session_id
    assert session_id is not None
    session = await world.sessions.get(session_id)
    assert session is not None
    return session


async def test_a_repeat_within_the_grace_period_gets_the_same_pair(
    world: UsersWorld, caplog: pytest.LogCaptureFixture
) -> None:
    signed = await sign_in(world)
    first = await refresh(world, signed.refresh_token)
    world.clock.advance(GRACE)
    with caplog.at_level(logging.INFO, logger="application.users.refresh_session"):
        second = await refresh(world, signed.refresh_token)
    assert (second.refresh_token, second.token) == (first.refresh_token, first.token)
    session = await session_of(world, second)
    assert session.revoked_at is None
    assert session.token_hash == world.secrets.fingerprint(first.refresh_token or "")
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert (await refresh(world, second.refresh_token)).username == "ada", "the pair works"


async def test_a_repeated_access_token_expires_with_the_first(world: UsersWorld) -> None:
    signed = await sign_in(world)
    first = await refresh(world, signed.refresh_token)
    world.clock.advance(timedelta(seconds=3))
    second = await refresh(world, signed.refresh_token)
    assert world.tokens.read_access_token(second.token) == world.tokens.read_access_token(
        first.token
    )
    expires_at = world.tokens.read_access_token(second.token).expires_at
    assert expires_at == world.clock.now() - timedelta(seconds=3) + timedelta(minutes=15)


async def test_a_repeat_after_the_grace_period_revokes_the_session(
    world: UsersWorld, caplog: pytest.LogCaptureFixture
) -> None:
    signed = await sign_in(world)
    first = await refresh(world, signed.refresh_token)
    world.clock.advance(GRACE + timedelta(microseconds=1))
    with (
        caplog.at_level(logging.INFO, logger="application.users.refresh_session"),
        pytest.raises(AuthenticationRequiredError),
    ):
        await refresh(world, signed.refresh_token)
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert (await session_of(world, first)).revoked_reason == "refresh token reused"
    with pytest.raises(AuthenticationRequiredError):
        await refresh(world, first.refresh_token)


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(ClientInfo(device="curl/8.5", ip=TAB.ip), id="other-user-agent"),
        pytest.param(ClientInfo(device=TAB.device, ip="10.0.0.2"), id="other-ip"),
    ],
)
async def test_a_repeat_from_another_client_revokes_the_session(
    world: UsersWorld, other: ClientInfo
) -> None:
    signed = await sign_in(world)
    first = await refresh(world, signed.refresh_token)
    with pytest.raises(AuthenticationRequiredError):
        await refresh(world, signed.refresh_token, other)
    assert (await session_of(world, first)).revoked_at is not None
    with pytest.raises(AuthenticationRequiredError):
        await refresh(world, first.refresh_token)


async def test_a_token_rotated_twice_since_is_a_replay_even_within_the_grace_period(
    world: UsersWorld,
) -> None:
    signed = await sign_in(world)
    first = await refresh(world, signed.refresh_token)
    second = await refresh(world, first.refresh_token)
    with pytest.raises(AuthenticationRequiredError):
        await refresh(world, signed.refresh_token)
    assert (await session_of(world, second)).revoked_at is not None
    with pytest.raises(AuthenticationRequiredError):
        await refresh(world, second.refresh_token)


async def test_a_repeat_of_an_ended_session_is_refused_without_reviving_it(
    world: UsersWorld,
) -> None:
    signed = await sign_in(world)
    first = await refresh(world, signed.refresh_token)
    session = await session_of(world, first)
    session.revoke(now=world.clock.now(), reason="logout")
    await world.sessions.save(session)
    with pytest.raises(AuthenticationRequiredError):
        await refresh(world, signed.refresh_token)
    assert (await session_of(world, first)).revoked_reason == "logout"


async def test_a_zero_grace_period_treats_every_repeat_as_a_replay(
    world: UsersWorld,
) -> None:
    world.session_policy = SessionPolicy(
        refresh_ttl=timedelta(days=30), max_lifetime=timedelta(days=90), reuse_grace=timedelta(0)
    )
    signed = await sign_in(world)
    first = await refresh(world, signed.refresh_token)
    with pytest.raises(AuthenticationRequiredError):
        await refresh(world, signed.refresh_token)
    with pytest.raises(AuthenticationRequiredError):
        await refresh(world, first.refresh_token)


def test_a_negative_grace_period_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        SessionPolicy(
            refresh_ttl=timedelta(days=1), max_lifetime=timedelta(days=2), reuse_grace=-GRACE
        )
