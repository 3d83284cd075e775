"""The RealWorld user and profile objects, as they cross the wire."""

from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from application.profiles.ports import ProfileView
from application.users.authenticated_user import AuthenticatedUser
from domain.users.values import (
    BIO_MAX,
    EMAIL_ATOM_ASCII,
    EMAIL_LABEL_ASCII,
    EMAIL_MAX,
    IMAGE_URL_MAX,
    PASSWORD_MAX,
    PASSWORD_MIN,
    USERNAME_MAX,
    USERNAME_PATTERN,
    dot_atom_address,
)
from entrypoints.http.schemas.constraints import (
    END_OF_TEXT,
    NO_CONTROL_CHARACTERS,
    NOT_BLANK,
    stated,
)

MAX_FIELD = 10_000
Text = Annotated[str, Meta(max_length=MAX_FIELD)]

EMAIL_PATTERN = dot_atom_address(EMAIL_ATOM_ASCII, EMAIL_LABEL_ASCII, end=END_OF_TEXT)
"""The ASCII addresses the domain's deliverable rule admits (`Email.parse_deliverable`)."""

Username = Annotated[
    str,
    Meta(
        max_length=USERNAME_MAX,
        extra_json_schema=stated(pattern=USERNAME_PATTERN.pattern),
        description="Letters, digits, '_', '.' and '-', starting with a letter or digit; "
        "unique regardless of case (409 when taken).",
    ),
]
Email = Annotated[
    str,
    Meta(
        max_length=EMAIL_MAX,
        extra_json_schema=stated(pattern=EMAIL_PATTERN),
        description="An address, trimmed and lower-cased; unique (409 when taken). Dot-atom "
        "local part on a host name: no quoting, comments or IP literals. The pattern "
        "describes ASCII addresses; printable non-ASCII letters are accepted too.",
    ),
]
NewPassword = Annotated[
    str,
    Meta(
        max_length=PASSWORD_MAX,
        extra_json_schema=stated(min_length=PASSWORD_MIN, pattern=r"^[^\u0000]*$"),
        description=f"{PASSWORD_MIN} to {PASSWORD_MAX} characters, any, no NUL; counted after "
        "NFKC normalization, which can change the length of a few composed characters.",
    ),
]
TypedPassword = Annotated[
    str,
    Meta(max_length=MAX_FIELD, extra_json_schema=stated(min_length=1)),
]
"""A password typed to prove who one is: only the stored hash judges it."""
SignInEmail = Annotated[
    str,
    Meta(max_length=MAX_FIELD, extra_json_schema=stated(pattern=NOT_BLANK)),
]
"""An address to sign in with: any text that is not blank (a wrong one is a 401)."""
Bio = Annotated[
    str,
    Meta(
        max_length=BIO_MAX,
        extra_json_schema=stated(pattern=NO_CONTROL_CHARACTERS),
        description="No control characters but tab, newline and CR; empty clears it.",
    ),
]
ImageUrl = Annotated[
    str,
    Meta(
        max_length=IMAGE_URL_MAX,
        extra_json_schema=stated(pattern=rf"^(?:https?://[ -~]*)?{END_OF_TEXT}"),
        description="An http(s) URL of printable characters; empty clears it.",
    ),
]


class RequestBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Request bodies: unknown fields are refused, so typos do not pass silently."""


class NewUser(RequestBody):
    """Registration fields."""

    username: Username
    email: Email
    password: NewPassword


class NewUserRequest(RequestBody):
    """``{"user": {...}}`` for POST /api/users."""

    user: NewUser


class LoginUser(RequestBody):
    """Sign-in fields."""

    email: SignInEmail
    password: TypedPassword


class LoginUserRequest(RequestBody):
    """``{"user": {...}}`` for POST /api/users/login."""

    user: LoginUser


class UpdateUser(RequestBody):
    """Changes to one's own account; a field left out is left as it is."""

    username: Username | UnsetType = UNSET
    email: Email | UnsetType = UNSET
    password: NewPassword | UnsetType = UNSET
    bio: Bio | UnsetType | None = UNSET
    image: ImageUrl | UnsetType | None = UNSET
    current_password: TypedPassword | UnsetType = msgspec.field(
        default=UNSET, name="currentPassword"
    )
    """The step-up proof for an email or password change, once the sign-in is not recent."""


class UpdateUserRequest(RequestBody):
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


class RefreshRequest(RequestBody):
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


class VerificationRequest(RequestBody):
    """``{"token": "..."}`` from the verification email."""

    token: Annotated[str, Meta(max_length=512)]


class PasswordResetRequest(RequestBody):
    """``{"email": "..."}``."""

    email: Email


class PasswordResetConfirmation(RequestBody):
    """``{"token": "...", "password": "..."}``."""

    token: Annotated[str, Meta(max_length=512)]
    password: NewPassword


class EmailRestoration(RequestBody):
    """``{"token": "...", "password": "..."}``: the link's token and a new password."""

    token: Annotated[str, Meta(max_length=512)]
    password: NewPassword


class Accepted(msgspec.Struct, kw_only=True):
    """A request taken in, whose outcome is not disclosed."""

    status: str = "accepted"
