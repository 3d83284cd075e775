"""Providers for the use cases; each is built per request from the ports it declares."""

from dishka import Provider, Scope, provide_all

from application.health.check_readiness import CheckReadiness
from application.identity.get_current_user import GetCurrentUser
from application.identity.log_in import LogIn
from application.identity.register_user import RegisterUser
from application.identity.update_user import UpdateUser
from application.profiles.follow_user import FollowUser
from application.profiles.get_profile import GetProfile
from application.profiles.unfollow_user import UnfollowUser


class UseCaseProvider(Provider):
    """Every use case, in REQUEST scope."""

    scope = Scope.REQUEST
    use_cases = provide_all(
        CheckReadiness,
        RegisterUser,
        LogIn,
        GetCurrentUser,
        UpdateUser,
        GetProfile,
        FollowUser,
        UnfollowUser,
    )
