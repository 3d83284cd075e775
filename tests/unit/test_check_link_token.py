"""`CheckLinkToken` on in-memory adapters: it answers as the spending use cases would.

Each case sets up a link's token, asks whether it can be spent, then spends it through the
use case its purpose belongs to (`VerifyEmail`, `ConfirmPasswordReset`, `RestoreEmail`):
the answer and the outcome must agree, and the asking must change nothing.
"""

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from adapters.memory.one_time_tokens import ONE_TIME_TOKENS
from adapters.memory.users import USERS
from application.users.check_link_token import CheckLinkTokenCommand
from application.users.confirm_password_reset import ConfirmPasswordResetCommand
from application.users.errors import OneTimeTokenNotFoundError
from application.users.restore_email import RestoreEmailCommand
from application.users.verify_email import VerifyEmailCommand
from domain.users.one_time_token import OneTimeToken, TokenPurpose
from domain.users.user import User
from domain.users.values import Email
from tests.support.users import UsersWorld

VERIFY = TokenPurpose.VERIFY_EMAIL
RESET = TokenPurpose.RESET_PASSWORD
RESTORE = TokenPurpose.RESTORE_EMAIL
LINK = "link-token-1"
NEW_PASSWORD = "a long new passphrase"

Setup = Callable[[UsersWorld, User], Awaitable[tuple[str, TokenPurpose]]]


@pytest.fixture
async def world() -> UsersWorld:
    world = UsersWorld()
    await world.register("ada")
    return world


async def ada(world: UsersWorld) -> User:
    user = await world.users.get_by_username("ada")
    assert user is not None
    return user


async def issue(world: UsersWorld, user: User, purpose: TokenPurpose, *, bound: bool = True) -> str:
    """Store the token `LINK` for `purpose`, bound to the account's address (or to none)."""
    token = OneTimeToken.issue(
        token_hash=world.secrets.fingerprint(LINK),
        user_id=user.id,
        purpose=purpose,
        email=user.email,
        now=world.clock.now(),
        ttl=timedelta(hours=1),
    )
    if not bound:
        token.email = None  # issued before tokens were bound to an address
    await world.one_time_tokens.add(token)
    return LINK


def stored_tokens(world: UsersWorld) -> dict[str, tuple[object, ...]]:
    rows = world.database.table(ONE_TIME_TOKENS).items()
    return {token_hash: (row.used_at, row.email, row.expires_at) for token_hash, row in rows}


async def check(world: UsersWorld, token: str, purpose: TokenPurpose) -> bool:
    return await world.check_link_token()(CheckLinkTokenCommand(token=token, purpose=purpose))


async def spend(world: UsersWorld, token: str, purpose: TokenPurpose) -> bool:
    """Spend `token` through its purpose's use case; whether that was accepted."""
    try:
        if purpose is VERIFY:
            await world.verify_email()(VerifyEmailCommand(token=token))
        elif purpose is RESET:
            await world.confirm_password_reset()(
                ConfirmPasswordResetCommand(token=token, password=NEW_PASSWORD)
            )
        else:
            await world.restore_email()(RestoreEmailCommand(token=token, password=NEW_PASSWORD))
    except OneTimeTokenNotFoundError:
        return False
    return True


def fresh(purpose: TokenPurpose) -> Setup:
    async def setup(world: UsersWorld, user: User) -> tuple[str, TokenPurpose]:
        return await issue(world, user, purpose), purpose

    return setup


def unbound(purpose: TokenPurpose) -> Setup:
    async def setup(world: UsersWorld, user: User) -> tuple[str, TokenPurpose]:
        return await issue(world, user, purpose, bound=False), purpose

    return setup


async def forged(world: UsersWorld, user: User) -> tuple[str, TokenPurpose]:
    await issue(world, user, RESET)
    return "not-a-link-we-sent", RESET


async def other_purpose(world: UsersWorld, user: User) -> tuple[str, TokenPurpose]:
    return await issue(world, user, VERIFY), RESET


async def expired(world: UsersWorld, user: User) -> tuple[str, TokenPurpose]:
    token = await issue(world, user, RESTORE)
    world.clock.advance(timedelta(hours=1))
    return token, RESTORE


async def voided(world: UsersWorld, user: User) -> tuple[str, TokenPurpose]:
    token = await issue(world, user, RESET)
    await world.one_time_tokens.invalidate_all(user.id, [RESET], now=world.clock.now())
    return token, RESET


async def to_an_address_left(world: UsersWorld, user: User) -> tuple[str, TokenPurpose]:
    token = await issue(world, user, VERIFY)
    user.update(now=world.clock.now(), email=Email.parse("ada@elsewhere.test"))
    await world.users.save(user)  # the link itself left usable: only the address moved
    return token, VERIFY


@pytest.mark.parametrize(
    ("setup", "spendable"),
    [
        pytest.param(fresh(VERIFY), True, id="verification"),
        pytest.param(fresh(RESET), True, id="reset"),
        pytest.param(fresh(RESTORE), True, id="restore"),
        pytest.param(unbound(RESET), True, id="reset-bound-to-no-address"),
        pytest.param(unbound(VERIFY), False, id="verification-bound-to-no-address"),
        pytest.param(unbound(RESTORE), False, id="restore-bound-to-no-address"),
        pytest.param(forged, False, id="forged"),
        pytest.param(other_purpose, False, id="other-purpose"),
        pytest.param(expired, False, id="expired"),
        pytest.param(voided, False, id="voided"),
        pytest.param(to_an_address_left, False, id="verification-to-an-address-left"),
    ],
)
async def test_the_answer_is_what_spending_the_token_finds(
    world: UsersWorld, setup: Setup, spendable: bool
) -> None:
    token, purpose = await setup(world, await ada(world))
    tokens_before = stored_tokens(world)
    events_before = world.event_types()
    assert await check(world, token, purpose) is spendable
    assert await check(world, token, purpose) is spendable  # asking twice changes nothing
    assert stored_tokens(world) == tokens_before
    assert world.event_types() == events_before
    assert await spend(world, token, purpose) is spendable


async def test_a_spent_link_is_no_longer_spendable(world: UsersWorld) -> None:
    token = await world.mailed_token("ada@test.com")
    assert await check(world, token, VERIFY)
    await world.verify_email()(VerifyEmailCommand(token=token))
    assert not await check(world, token, VERIFY)


async def test_a_link_whose_account_is_gone_is_not_spendable(world: UsersWorld) -> None:
    token = await issue(world, await ada(world), RESET)
    world.database.table(USERS).clear()
    assert not await check(world, token, RESET)
    assert not await spend(world, token, RESET)


def test_the_command_keeps_the_token_out_of_its_repr() -> None:
    assert LINK not in repr(CheckLinkTokenCommand(token=LINK, purpose=VERIFY))
