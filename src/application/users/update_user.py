"""Use case: change one's own account."""

from dataclasses import dataclass, field

from application.articles.read_cache import ContentReadCache
from application.audit.capture import audited
from application.common.errors import AuthenticationRequiredError
from application.common.identity import Identity
from application.common.ports.clock import Clock
from application.common.ports.rate_limits import RateLimiter
from application.common.ports.unit_of_work import UnitOfWork
from application.common.unchanged import UNCHANGED, Unchanged
from application.users.authenticated_user import AuthenticatedUser
from application.users.errors import EmailTakenError, UsernameTakenError
from application.users.live_sessions import LiveSessionCloser
from application.users.one_time_tokens import OneTimeTokenMailer
from application.users.ports import (
    OneTimeTokenRepository,
    PasswordHasher,
    SessionRepository,
    UserRepository,
)
from application.users.security_notices import SecurityNotices, masked_email, notice_time
from application.users.step_up import CURRENT_PASSWORD, StepUpPolicy, require_recent_password
from domain.shared.errors import DomainError
from domain.users.one_time_token import LINKS_VOIDED_BY_ACCOUNT_CHANGES, TokenPurpose
from domain.users.values import BLANK, Email, Password, Profile, Username


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateUserCommand:
    """The fields to change; `UNCHANGED` leaves one as it is, None clears bio or image.

    `access_token` is the token the request carried; it is handed back as it is, since
    only a refresh mints access tokens. `current_password` is the step-up proof that an
    email or password change may need.
    """

    actor: Identity
    access_token: str = field(repr=False)
    username: str | Unchanged = UNCHANGED
    email: str | Unchanged = UNCHANGED
    password: str | Unchanged = field(default=UNCHANGED, repr=False)
    bio: str | Unchanged | None = UNCHANGED
    image: str | Unchanged | None = UNCHANGED
    current_password: str | None = field(default=None, repr=False)


@audited("user.update", target="user", target_id=lambda command: command.actor.user_id)
class UpdateUser:
    """Update the caller's own account.

    Rules:
    - Only the caller's own account can be changed through this use case.
    - Fields left out stay as they are; an empty bio or image clears it.
    - A new username or email must be valid and free (`UsernameTakenError`,
      `EmailTakenError`); a new password must meet the policy.
    - Changing the email or the password needs a recent proof of the password: the
      session signed in within the step-up window (STEP_UP_WINDOW_SECONDS), or
      `current_password` is right; otherwise `StepUpRequiredError` naming
      `currentPassword`. A wrong `current_password` counts as a failed sign-in of the
      account; a blank one is a `DomainError`, whether or not the change needs it.
    - `UserProfileUpdated` names what changed; `PasswordChanged` says the password did.
    - The owner is told at the address on file before the change: an email change mails
      the old address a link that restores it (`RestoreEmail`); a password change mails
      a notice. Both are built in this transaction and sent once it commits.
    - An email or password change voids every outstanding verification and reset link.
    - A new password ends every other session of the account, and their live channels;
      this one stays.
    - A new email is unverified until the link mailed to it is used.
    - A new username, bio or image invalidates the cached content reads that show the author.
    - The access token is returned as presented: only refresh mints tokens (RFC 9700).
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        users: UserRepository,
        hasher: PasswordHasher,
        clock: Clock,
        sessions: SessionRepository,
        one_time_tokens: OneTimeTokenRepository,
        token_mailer: OneTimeTokenMailer,
        notices: SecurityNotices,
        live_sessions: LiveSessionCloser,
        step_up: StepUpPolicy,
        limiter: RateLimiter,
        read_cache: ContentReadCache,
    ) -> None:
        self._uow = uow
        self._users = users
        self._hasher = hasher
        self._clock = clock
        self._sessions = sessions
        self._one_time_tokens = one_time_tokens
        self._token_mailer = token_mailer
        self._notices = notices
        self._live_sessions = live_sessions
        self._step_up = step_up
        self._limiter = limiter
        self._read_cache = read_cache

    async def __call__(self, command: UpdateUserCommand) -> AuthenticatedUser:
        """Apply the changes and return the account with the token presented."""
        username = None if isinstance(command.username, Unchanged) else Username(command.username)
        email = (
            None if isinstance(command.email, Unchanged) else Email.parse_deliverable(command.email)
        )
        password = (
            None if isinstance(command.password, Unchanged) else Password.parse(command.password)
        )
        if command.current_password is not None and not command.current_password:
            raise DomainError(BLANK, field=CURRENT_PASSWORD)
        async with self._uow:
            user = await self._users.get(command.actor.user_id, for_update=True)
            if user is None or user.is_banned:
                raise AuthenticationRequiredError("is invalid")
            now = self._clock.now()
            email_changes = email is not None and email != user.email
            if email_changes or password is not None:
                await require_recent_password(
                    user=user,
                    session_id=command.actor.session_id,
                    current_password=command.current_password,
                    policy=self._step_up,
                    sessions=self._sessions,
                    hasher=self._hasher,
                    limiter=self._limiter,
                    now=now,
                )
            if (
                username is not None
                and str(username).lower() != str(user.username).lower()
                and await self._users.username_taken(username)
            ):
                raise UsernameTakenError
            if email_changes and email is not None and await self._users.get_by_email(email):
                raise EmailTakenError
            profile = Profile.of(
                bio=user.profile.bio if isinstance(command.bio, Unchanged) else command.bio,
                image=user.profile.image if isinstance(command.image, Unchanged) else command.image,
            )
            previous_email = user.email
            shown_before = (user.username, user.profile)
            user.update(now=now, username=username, email=email, profile=profile)
            if email_changes or password is not None:
                await self._one_time_tokens.invalidate_all(
                    user.id, LINKS_VOIDED_BY_ACCOUNT_CHANGES, now=now
                )
            if password is not None:
                user.change_password_hash(await self._hasher.hash(password), now=now)
                await self._sessions.revoke_others(
                    user.id, keep=command.actor.session_id, at=now, reason="password changed"
                )
                self._live_sessions.end_after_commit(
                    self._uow, user.id, keep=command.actor.session_id
                )
                self._notices.password_changed(self._uow, user, to=previous_email, at=now)
            if user.email != previous_email:
                restore = await self._token_mailer.issue(
                    user,
                    TokenPurpose.RESTORE_EMAIL,
                    to=previous_email,
                    context={
                        "new_email": masked_email(str(user.email)),
                        "changed_at": notice_time(now),
                    },
                )
                self._notices.schedule(self._uow, restore)
                verification = await self._token_mailer.issue(user, TokenPurpose.VERIFY_EMAIL)
                self._notices.schedule(self._uow, verification)
            if (user.username, user.profile) != shown_before:
                self._read_cache.invalidate_after_commit(self._uow)
            await self._users.save(user)
            self._uow.track(user)
            await self._uow.commit()
        return AuthenticatedUser.of(user, command.access_token)
