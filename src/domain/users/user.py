"""The User aggregate."""

from datetime import datetime
from typing import Self

from domain.shared.aggregate import AggregateRoot
from domain.shared.errors import DomainError
from domain.users.events import (
    EmailVerified,
    PasswordChanged,
    UserBanned,
    UserFollowed,
    UserProfileUpdated,
    UserRegistered,
    UserRoleChanged,
    UserSignedIn,
    UserUnbanned,
    UserUnfollowed,
)
from domain.users.values import Email, Profile, Role, UserId, Username


class User(AggregateRoot):
    """An account: who someone is, how they sign in, and what they may do.

    The password is held only as a hash made by the application's hasher; the aggregate
    never sees a plain password after registration.
    """

    __slots__ = (
        "banned_at",
        "created_at",
        "email",
        "email_verified_at",
        "id",
        "password_hash",
        "profile",
        "role",
        "updated_at",
        "username",
    )

    def __init__(
        self,
        *,
        id: UserId,  # noqa: A002 - the aggregate's identity is its id
        username: Username,
        email: Email,
        password_hash: str,
        profile: Profile,
        role: Role,
        created_at: datetime,
        updated_at: datetime,
        email_verified_at: datetime | None = None,
        banned_at: datetime | None = None,
    ) -> None:
        super().__init__()
        self.id = id
        self.username = username
        self.email = email
        self.password_hash = password_hash
        self.profile = profile
        self.role = role
        self.created_at = created_at
        self.updated_at = updated_at
        self.email_verified_at = email_verified_at
        self.banned_at = banned_at

    @classmethod
    def register(
        cls,
        *,
        id: UserId,  # noqa: A002 - the aggregate's identity is its id
        username: Username,
        email: Email,
        password_hash: str,
        now: datetime,
    ) -> Self:
        """Open a new account with the `user` role and an empty profile."""
        user = cls(
            id=id,
            username=username,
            email=email,
            password_hash=password_hash,
            profile=Profile(),
            role=Role.USER,
            created_at=now,
            updated_at=now,
        )
        user.record(
            UserRegistered(
                aggregate_id=str(id), occurred_at=now, username=str(username), email=str(email)
            )
        )
        return user

    @property
    def is_banned(self) -> bool:
        """A banned user cannot sign in or refresh a session."""
        return self.banned_at is not None

    def update(
        self,
        *,
        now: datetime,
        username: Username | None = None,
        email: Email | None = None,
        profile: Profile | None = None,
    ) -> None:
        """Change what was given; record one event naming what really changed."""
        changed: list[str] = []
        if username is not None and username != self.username:
            self.note_change("username", str(self.username), str(username))
            self.username = username
            changed.append("username")
        if email is not None and email != self.email:
            self.note_change("email", str(self.email), str(email))
            self.email = email
            self.email_verified_at = None
            changed.append("email")
        if profile is not None and profile != self.profile:
            for name in ("bio", "image"):
                before, after = getattr(self.profile, name), getattr(profile, name)
                if before != after:
                    self.note_change(name, before, after)
                    changed.append(name)
            self.profile = profile
        if changed:
            self.updated_at = now
            self.record(
                UserProfileUpdated(
                    aggregate_id=str(self.id), occurred_at=now, changed=tuple(changed)
                )
            )

    def change_password_hash(self, password_hash: str, *, now: datetime) -> None:
        """Store a new hash for a new password, and say so."""
        self.note_change("password", None, None)
        self.password_hash = password_hash
        self.updated_at = now
        self.record(PasswordChanged(aggregate_id=str(self.id), occurred_at=now))

    def signed_in(self, *, session_id: str, device: str, ip: str, now: datetime) -> None:
        """Say the user opened a session, so they can learn of sign-ins they did not make."""
        self.record(
            UserSignedIn(
                aggregate_id=str(self.id),
                occurred_at=now,
                session_id=session_id,
                device=device,
                ip=ip,
            )
        )

    def restore_email(self, email: Email, *, password_hash: str, now: datetime) -> None:
        """Take back an address from before an email change, with a new password.

        The link that allows this was mailed to `email`, so using it proves the address,
        and whoever changed it may know the password, so it is replaced in the same step.
        """
        if email != self.email:
            self.update(now=now, email=email)
        self.change_password_hash(password_hash, now=now)
        self.verify_email(now=now)

    def rehash_password(self, password_hash: str) -> None:
        """Store a stronger hash of the same password; nothing the user did, so no event."""
        self.password_hash = password_hash

    def verify_email(self, *, now: datetime) -> None:
        """Record that the current email was proven; idempotent."""
        if self.email_verified_at is not None:
            return
        self.email_verified_at = now
        self.updated_at = now
        self.note_change("email_verified", False, True)  # noqa: FBT003 - a value, not a flag
        self.record(EmailVerified(aggregate_id=str(self.id), occurred_at=now))

    def assign_role(self, role: Role, *, now: datetime) -> None:
        """Give the user another role; say so when it changes."""
        if role is self.role:
            return
        previous, self.role, self.updated_at = self.role, role, now
        self.note_change("role", previous.value, role.value)
        self.record(
            UserRoleChanged(
                aggregate_id=str(self.id), occurred_at=now, role=role.value, previous=previous.value
            )
        )

    def ban(self, *, now: datetime, reason: str) -> None:
        """Stop the user from signing in or refreshing; idempotent."""
        if self.banned_at is not None:
            return
        self.banned_at = now
        self.updated_at = now
        self.note_change("banned", False, True)  # noqa: FBT003 - a value, not a flag
        self.record(UserBanned(aggregate_id=str(self.id), occurred_at=now, reason=reason))

    def unban(self, *, now: datetime) -> None:
        """Let the user sign in again; idempotent."""
        if self.banned_at is None:
            return
        self.banned_at = None
        self.updated_at = now
        self.note_change("banned", True, False)  # noqa: FBT003 - a value, not a flag
        self.record(UserUnbanned(aggregate_id=str(self.id), occurred_at=now))

    def follow(self, followee: "User", *, now: datetime) -> None:
        """Start following `followee`; following oneself is refused."""
        if followee.id == self.id:
            raise DomainError("cannot be yourself", field="profile")
        self.record(
            UserFollowed(aggregate_id=str(self.id), occurred_at=now, followee_id=str(followee.id))
        )

    def unfollow(self, followee: "User", *, now: datetime) -> None:
        """Stop following `followee`."""
        self.record(
            UserUnfollowed(aggregate_id=str(self.id), occurred_at=now, followee_id=str(followee.id))
        )
