"""RealWorld profiles: /api/profiles/{username}."""

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, delete, get, post
from litestar.params import FromPath
from litestar.status_codes import HTTP_200_OK

from application.common.permissions import Permission
from application.profiles.follow_relation import FollowCommand
from application.profiles.follow_user import FollowUser
from application.profiles.get_profile import GetProfile, GetProfileCommand
from application.profiles.unfollow_user import UnfollowUser
from entrypoints.http.auth import PUBLIC, Actor, OptionalActor
from entrypoints.http.openapi import WRITE_CONFLICT, described_by, error_responses
from entrypoints.http.rate_limits import FOLLOWS, limit_writes, write_route
from entrypoints.http.schemas.users import Profile, ProfileResponse

_NO_USER = "No user has this username."


class ProfilesController(Controller):
    """Look at profiles, and follow or unfollow their owners."""

    path = "/api/profiles/{username:str}"
    tags = ["profiles"]  # noqa: RUF012 - Litestar reads this class attribute
    guards = [limit_writes]  # noqa: RUF012 - counts the routes naming a write_route rule

    @get(
        opt=PUBLIC,
        summary="Get profile",
        description=described_by(GetProfile),
        responses=error_responses(not_found=_NO_USER),
    )
    @inject
    async def get_profile(
        self,
        username: FromPath[str],
        actor: OptionalActor,
        get_profile: FromDishka[GetProfile],
    ) -> ProfileResponse:
        view = await get_profile(GetProfileCommand(username=username, viewer=actor))
        return ProfileResponse(profile=Profile.of(view))

    @post(
        "/follow",
        status_code=HTTP_200_OK,
        opt=write_route(FOLLOWS, Permission.FOLLOW_USERS),
        summary="Follow",
        description=described_by(FollowUser),
        responses=error_responses(
            forbidden="Nobody may follow themselves.",
            not_found=_NO_USER,
            conflict=WRITE_CONFLICT,
        ),
    )
    @inject
    async def follow(
        self,
        username: FromPath[str],
        actor: Actor,
        follow_user: FromDishka[FollowUser],
    ) -> ProfileResponse:
        view = await follow_user(FollowCommand(actor=actor, username=username))
        return ProfileResponse(profile=Profile.of(view))

    @delete(
        "/follow",
        status_code=HTTP_200_OK,
        opt=write_route(FOLLOWS, Permission.FOLLOW_USERS),
        summary="Unfollow",
        description=described_by(UnfollowUser),
        responses=error_responses(not_found=_NO_USER, conflict=WRITE_CONFLICT),
    )
    @inject
    async def unfollow(
        self,
        username: str,
        actor: Actor,
        unfollow_user: FromDishka[UnfollowUser],
    ) -> ProfileResponse:
        view = await unfollow_user(FollowCommand(actor=actor, username=username))
        return ProfileResponse(profile=Profile.of(view))
