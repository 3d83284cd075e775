"""The housekeeping purge of ended sessions and spent tokens, on in-memory adapters."""

from datetime import timedelta

from application.users.log_out import LogOutCommand
from application.users.purge_ended_credentials import (
    PurgeEndedCredentials,
    PurgeEndedCredentialsCommand,
)
from tests.support.users import UsersWorld

GRACE = PurgeEndedCredentialsCommand(grace=timedelta(days=1))


async def test_ended_sessions_and_spent_tokens_go_after_the_grace_period() -> None:
    world = UsersWorld()
    leaving, staying = await world.register("leaving"), await world.register("staying")
    staying_id = world.identity_of(staying).user_id
    await world.log_out()(LogOutCommand(actor=world.identity_of(leaving)))
    purge = PurgeEndedCredentials(
        uow=world.uow(), sessions=world.sessions, tokens=world.one_time_tokens, clock=world.clock
    )
    nothing_yet = await purge(GRACE)
    assert (nothing_yet.sessions, nothing_yet.tokens) == (0, 0)
    world.clock.advance(timedelta(days=10))
    report = await purge(GRACE)
    assert report.sessions == 1
    assert report.tokens == 2, "both verification links expired long ago"
    remaining = await world.sessions.list_for_user(staying_id)
    assert len(remaining) == 1
