"""Sessions on in-memory adapters: rotation, reuse detection, logout, listing, revocation."""

from collections.abc import Awaitable
from datetime import timedelta
from uuid import UUID

import pytest

from application.common.errors import AuthenticationRequiredError, NotFoundError
from application.common.identity import Identity
from application.users.authenticate import Authenticate, AuthenticateCommand
from application.users.authenticated_user import AuthenticatedUser
from application.users.errors import AccountBannedError
from application.users.get_current_user import GetCurrentUserCommand
from application.users.list_sessions import ListSessionsCommand
from application.users.log_in import LogInCommand
from application.users.log_out import LogOutCommand
from application.users.log_out_all import LogOutAllCommand
from application.users.refresh_session import RefreshSessionCommand
from application.users.revoke_session import RevokeSessionCommand
from application.users.session_policy import ClientInfo
from application.users.update_user import UpdateUserCommand
from tests.support.users import UsersWorld


@pytest.fixture
async def world() -> UsersWorld:
    world = UsersWorld()
    await world.register("ada")
    await world.register("bob")
    world.database.table("sessions").clear()  # start from users signed in nowhere
    return world


async def sign_in(
    world: UsersWorld, name: str = "ada", device: str = "laptop"
) -> AuthenticatedUser:
    return await world.log_in()(
        LogInCommand(
            email=f"{name}@test.com",
            password="password123",
            client=ClientInfo(device=device, ip="10.0.0.1"),
        )
    )


def refresh(world: UsersWorld, token: str | None) -> Awaitable[AuthenticatedUser]:
    assert token is not None
    return world.refresh_session()(RefreshSessionCommand(refresh_token=token))


async def test_log_in_opens_a_session_and_returns_its_refresh_token(world: UsersWorld) -> None:
    signed = await sign_in(world)
    assert signed.refresh_token
    identity = world.identity_of(signed)
    sessions = await world.list_sessions()(ListSessionsCommand(actor=identity))
    assert [(s.device, s.ip, s.current) for s in sessions] == [("laptop", "10.0.0.1", True)]


async def test_refresh_rotates_and_the_new_token_works(world: UsersWorld) -> None:
    signed = await sign_in(world)
    first = await refresh(world, signed.refresh_token)
    assert first.refresh_token != signed.refresh_token
    second = await refresh(world, first.refresh_token)
    assert second.username == "ada"


async def test_reusing_a_rotated_token_revokes_the_whole_session(world: UsersWorld) -> None:
    signed = await sign_in(world)
    rotated = await refresh(world, signed.refresh_token)
    world.clock.advance(world.session_policy.reuse_grace + timedelta(seconds=1))
    with pytest.raises(AuthenticationRequiredError):
        await refresh(world, signed.refresh_token)
    with pytest.raises(AuthenticationRequiredError):
        await refresh(world, rotated.refresh_token)


async def test_an_unknown_token_is_refused(world: UsersWorld) -> None:
    with pytest.raises(AuthenticationRequiredError):
        await refresh(world, "never-issued")


async def test_a_session_expires_after_its_ttl_without_refresh(world: UsersWorld) -> None:
    signed = await sign_in(world)
    world.clock.advance(timedelta(days=31))
    with pytest.raises(AuthenticationRequiredError):
        await refresh(world, signed.refresh_token)


async def test_log_out_ends_only_this_session(world: UsersWorld) -> None:
    laptop = await sign_in(world, device="laptop")
    phone = await sign_in(world, device="phone")
    await world.log_out()(LogOutCommand(actor=world.identity_of(laptop)))
    with pytest.raises(AuthenticationRequiredError):
        await refresh(world, laptop.refresh_token)
    assert (await refresh(world, phone.refresh_token)).username == "ada"
    await world.log_out()(LogOutCommand(actor=world.identity_of(laptop)))


async def test_log_out_all_ends_every_session_of_the_user_only(world: UsersWorld) -> None:
    laptop, phone, other = await sign_in(world), await sign_in(world), await sign_in(world, "bob")
    revoked = await world.log_out_all()(LogOutAllCommand(actor=world.identity_of(laptop)))
    assert revoked == 2
    for signed in (laptop, phone):
        with pytest.raises(AuthenticationRequiredError):
            await refresh(world, signed.refresh_token)
    assert (await refresh(world, other.refresh_token)).username == "bob"


async def test_sessions_list_marks_the_current_one_and_hides_ended_ones(
    world: UsersWorld,
) -> None:
    laptop = await sign_in(world, device="laptop")
    phone = await sign_in(world, device="phone")
    me = world.identity_of(phone)
    await world.log_out()(LogOutCommand(actor=world.identity_of(laptop)))
    sessions = await world.list_sessions()(ListSessionsCommand(actor=me))
    assert [(s.device, s.current) for s in sessions] == [("phone", True)]


async def test_a_user_cannot_revoke_someone_elses_session(world: UsersWorld) -> None:
    ada = await sign_in(world, "ada")
    bob = await sign_in(world, "bob")
    bobs_session = world.identity_of(bob).session_id
    assert bobs_session is not None
    with pytest.raises(NotFoundError):
        await world.revoke_session()(
            RevokeSessionCommand(actor=world.identity_of(ada), session_id=bobs_session)
        )
    assert (await refresh(world, bob.refresh_token)).username == "bob"
    with pytest.raises(NotFoundError):
        await world.revoke_session()(
            RevokeSessionCommand(actor=world.identity_of(ada), session_id=UUID(int=999))
        )


async def test_revoking_ones_own_session_ends_it(world: UsersWorld) -> None:
    laptop = await sign_in(world)
    me = world.identity_of(laptop)
    assert me.session_id is not None
    await world.revoke_session()(RevokeSessionCommand(actor=me, session_id=me.session_id))
    with pytest.raises(AuthenticationRequiredError):
        await refresh(world, laptop.refresh_token)


async def test_a_banned_user_cannot_refresh(world: UsersWorld) -> None:
    signed = await sign_in(world)
    user = await world.users.get_by_username("ada")
    assert user is not None
    user.banned_at = world.clock.now()
    await world.users.save(user)
    with pytest.raises(AccountBannedError):
        await refresh(world, signed.refresh_token)
    with pytest.raises(AuthenticationRequiredError):
        await refresh(world, signed.refresh_token)


async def test_log_out_with_a_token_without_session_is_harmless(world: UsersWorld) -> None:
    user = await world.users.get_by_username("ada")
    assert user is not None
    await world.log_out()(LogOutCommand(actor=Identity(user_id=user.id, role=user.role)))


async def test_registration_signs_the_new_user_in() -> None:
    world = UsersWorld()
    registered = await world.register("cy")
    assert registered.refresh_token
    me = world.identity_of(registered)
    (session,) = await world.list_sessions()(ListSessionsCommand(actor=me))
    assert session.current


async def test_changing_the_password_ends_the_other_sessions_only(world: UsersWorld) -> None:
    laptop, phone = await sign_in(world, device="laptop"), await sign_in(world, device="phone")
    await world.update_user()(
        UpdateUserCommand(
            actor=world.identity_of(laptop), access_token="presented", password="new-password-1"
        )
    )
    with pytest.raises(AuthenticationRequiredError):
        await refresh(world, phone.refresh_token)
    assert (await refresh(world, laptop.refresh_token)).username == "ada"


def authenticate(world: UsersWorld) -> Authenticate:
    return Authenticate(world.tokens, world.sessions, world.clock)


async def test_a_token_works_only_while_its_session_lives(world: UsersWorld) -> None:
    signed = await sign_in(world)
    identity = await authenticate(world)(AuthenticateCommand(token=signed.token))
    assert identity.session_id == world.identity_of(signed).session_id
    await world.log_out()(LogOutCommand(actor=identity))
    with pytest.raises(AuthenticationRequiredError):
        await authenticate(world)(AuthenticateCommand(token=signed.token))


async def test_a_banned_users_tokens_stop_at_once(world: UsersWorld) -> None:
    signed = await sign_in(world)
    user = await world.users.get_by_username("ada")
    assert user is not None
    user.ban(now=world.clock.now(), reason="test")
    await world.users.save(user)
    with pytest.raises(AuthenticationRequiredError):
        await authenticate(world)(AuthenticateCommand(token=signed.token))


async def test_a_token_without_a_session_is_refused(world: UsersWorld) -> None:
    user = await world.users.get_by_username("ada")
    assert user is not None
    bare = world.tokens.issue_access_token(user_id=user.id, role=user.role)
    with pytest.raises(AuthenticationRequiredError):
        await authenticate(world)(AuthenticateCommand(token=bare))


async def test_current_user_hands_back_the_presented_token_and_mints_none(
    world: UsersWorld,
) -> None:
    signed = await sign_in(world)
    me = world.identity_of(signed)
    shown = await world.get_current_user()(
        GetCurrentUserCommand(actor=me, access_token=signed.token)
    )
    assert shown.token == signed.token


async def test_refreshing_cannot_stretch_a_session_past_its_maximum_lifetime(
    world: UsersWorld,
) -> None:
    signed = await sign_in(world)
    token = signed.refresh_token
    for _ in range(3):  # days 25, 50 and 75: each refresh extends the session
        world.clock.advance(timedelta(days=25))
        rotated = await refresh(world, token)
        token = rotated.refresh_token
    world.clock.advance(timedelta(days=16))  # day 91: past the 90-day maximum
    with pytest.raises(AuthenticationRequiredError):
        await refresh(world, token)
