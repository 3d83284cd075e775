"""The RealWorld user and profile objects, as they cross the wire."""

from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from application.identity.authenticated_user import AuthenticatedUser
from application.ports.persistence import ProfileView

MAX_FIELD = 10_000
Text = Annotated[str, Meta(max_length=MAX_FIELD)]


class Struct(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Request bodies: unknown fields are refused, so typos do not pass silently."""


class NewUser(Struct):
    """Registration fields."""

    username: Text
    email: Text
    password: Text


class NewUserRequest(Struct):
    """``{"user": {...}}`` for POST /api/users."""

    user: NewUser


class LoginUser(Struct):
    """Sign-in fields."""

    email: Text
    password: Text


class LoginUserRequest(Struct):
    """``{"user": {...}}`` for POST /api/users/login."""

    user: LoginUser


class UpdateUser(Struct):
    """Changes to one's own account; a field left out is left as it is."""

    username: Text | UnsetType = UNSET
    email: Text | UnsetType = UNSET
    password: Text | UnsetType = UNSET
    bio: Text | UnsetType | None = UNSET
    image: Text | UnsetType | None = UNSET
    current_password: Text | UnsetType = msgspec.field(default=UNSET, name="currentPassword")
    """The step-up proof for an email or password change, once the sign-in is not recent."""


class UpdateUserRequest(Struct):
    """``{"user": {...}}`` for PUT /api/user."""

    user: UpdateUser


class User(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The caller's own account; `refreshToken` only for a client that asked for it in the body.

    Browsers get the refresh token as an httpOnly cookie alone, so a page script never reads
    it (`entrypoints.http.controllers.sessions.signed_in`).
    """

    email: str
    token: str
    username: str
    bio: str | None
    image: str | None
    refresh_token: str | None = msgspec.field(default=None, name="refreshToken")

    @classmethod
    def of(cls, user: AuthenticatedUser, *, refresh_token: str | None = None) -> "User":
        """Translate the use case's result; its refresh token is left out unless passed."""
        return cls(
            email=user.email,
            token=user.token,
            username=user.username,
            bio=user.bio,
            image=user.image,
            refresh_token=refresh_token,
        )


class UserResponse(msgspec.Struct, kw_only=True):
    """``{"user": {...}}``."""

    user: User


class Profile(msgspec.Struct, kw_only=True):
    """Another user, as the caller sees them."""

    username: str
    bio: str | None
    image: str | None
    following: bool

    @classmethod
    def of(cls, view: ProfileView) -> "Profile":
        """Translate the read model."""
        return cls(username=view.username, bio=view.bio, image=view.image, following=view.following)


class ProfileResponse(msgspec.Struct, kw_only=True):
    """``{"profile": {...}}``."""

    profile: Profile


class RefreshRequest(Struct):
    """For clients without cookies: ``{"refreshToken": "..."}``."""

    refresh_token: Annotated[str, Meta(max_length=512)] = msgspec.field(name="refreshToken")


class SessionItem(msgspec.Struct, kw_only=True):
    """One of the caller's sessions."""

    id: str
    device: str
    ip: str
    created_at: str = msgspec.field(name="createdAt")
    last_used_at: str = msgspec.field(name="lastUsedAt")
    current: bool


class SessionsResponse(msgspec.Struct, kw_only=True):
    """``{"sessions": [...]}``, newest first."""

    sessions: list[SessionItem]


class VerificationRequest(Struct):
    """``{"token": "..."}`` from the verification email."""

    token: Annotated[str, Meta(max_length=512)]


class PasswordResetRequest(Struct):
    """``{"email": "..."}``."""

    email: Text


class PasswordResetConfirmation(Struct):
    """``{"token": "...", "password": "..."}``."""

    token: Annotated[str, Meta(max_length=512)]
    password: Text


class EmailRestoration(Struct):
    """``{"token": "...", "password": "..."}``: the link's token and a new password."""

    token: Annotated[str, Meta(max_length=512)]
    password: Text


class Accepted(msgspec.Struct, kw_only=True):
    """A request taken in, whose outcome is not disclosed."""

    status: str = "accepted"
