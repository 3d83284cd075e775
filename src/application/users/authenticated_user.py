"""What the users context's use cases return: the account and a fresh access token."""

from dataclasses import dataclass, field, fields

from domain.users.user import User


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthenticatedUser:
    """The caller's own account, as RealWorld's user object shows it."""

    username: str
    email: str
    bio: str | None
    image: str | None
    token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)

    @classmethod
    def of(cls, user: User, token: str, refresh_token: str | None = None) -> "AuthenticatedUser":
        """Describe `user`, carrying `token` (and a refresh token for a new session)."""
        return cls(
            username=str(user.username),
            email=str(user.email),
            bio=user.profile.bio,
            image=user.profile.image,
            token=token,
            refresh_token=refresh_token,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedIn(AuthenticatedUser):
    """The account and its new tokens, and a new device token to present next time."""

    device_token: str = field(repr=False)

    @classmethod
    def of_sign_in(cls, account: AuthenticatedUser, device_token: str) -> "SignedIn":
        """`account`, carrying `device_token` as well."""
        values = {f.name: getattr(account, f.name) for f in fields(account)}
        return cls(**values, device_token=device_token)
