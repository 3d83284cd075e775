"""Use case: change one's own account."""

from dataclasses import dataclass, field

from application.common.errors import AuthenticationRequiredError
from application.common.identity import Identity
from application.common.unchanged import UNCHANGED, Unchanged
from application.content.read_cache import invalidate_content_reads
from application.identity.authenticated_user import AuthenticatedUser
from application.identity.errors import EmailTakenError, UsernameTakenError
from application.identity.one_time_tokens import OneTimeTokenMailer
from application.ports.cache import Cache
from application.ports.persistence import SessionRepository, UnitOfWork, UserRepository
from application.ports.security import PasswordHasher, TokenIssuer
from application.ports.system import Clock
from domain.users.one_time_token import TokenPurpose
from domain.users.values import Email, Password, Profile, Username


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateUserCommand:
    """The fields to change; `UNCHANGED` leaves one as it is, None clears bio or image."""

    actor: Identity
    username: str | Unchanged = UNCHANGED
    email: str | Unchanged = UNCHANGED
    password: str | Unchanged = field(default=UNCHANGED, repr=False)
    bio: str | Unchanged | None = UNCHANGED
    image: str | Unchanged | None = UNCHANGED


class UpdateUser:
    """Update the caller's own account.

    Rules:
    - Only the caller's own account can be changed through this use case.
    - A new username or email must be valid and free; a new password must meet the policy.
    - An empty bio or image is stored as none.
    - `UserProfileUpdated` names what changed; `PasswordChanged` says the password did.
    - A new password ends every other session of the account; this one stays.
    - A new email is unverified until the link mailed to it is used.
    - A new username, bio or image invalidates the cached content reads that show the author.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        users: UserRepository,
        hasher: PasswordHasher,
        tokens: TokenIssuer,
        clock: Clock,
        sessions: SessionRepository,
        token_mailer: OneTimeTokenMailer,
        cache: Cache,
    ) -> None:
        self._cache = cache
        self._sessions = sessions
        self._token_mailer = token_mailer
        self._uow = uow
        self._users = users
        self._hasher = hasher
        self._tokens = tokens
        self._clock = clock

    async def __call__(self, command: UpdateUserCommand) -> AuthenticatedUser:
        """Apply the changes and return the account with a fresh token."""
        username = None if isinstance(command.username, Unchanged) else Username(command.username)
        email = None if isinstance(command.email, Unchanged) else Email.parse(command.email)
        password = (
            None if isinstance(command.password, Unchanged) else Password.parse(command.password)
        )
        async with self._uow:
            user = await self._users.get(command.actor.user_id)
            if user is None or user.is_banned:
                raise AuthenticationRequiredError("is invalid")
            now = self._clock.now()
            if (
                username is not None
                and str(username).lower() != str(user.username).lower()
                and await self._users.username_taken(username)
            ):
                raise UsernameTakenError
            if (
                email is not None
                and email != user.email
                and await self._users.get_by_email(email) is not None
            ):
                raise EmailTakenError
            profile = Profile.of(
                bio=user.profile.bio if isinstance(command.bio, Unchanged) else command.bio,
                image=user.profile.image if isinstance(command.image, Unchanged) else command.image,
            )
            previous_email = user.email
            shown_before = (user.username, user.profile)
            user.update(now=now, username=username, email=email, profile=profile)
            verification = None
            if user.email != previous_email:
                verification = await self._token_mailer.issue(user, TokenPurpose.VERIFY_EMAIL)
            if password is not None:
                user.change_password_hash(await self._hasher.hash(password), now=now)
                await self._sessions.revoke_others(
                    user.id, keep=command.actor.session_id, at=now, reason="password changed"
                )
            await self._users.save(user)
            self._uow.track(user)
            await self._uow.commit()
        if verification is not None:
            await self._token_mailer.send(verification)
        if (user.username, user.profile) != shown_before:
            await invalidate_content_reads(self._cache)
        token = self._tokens.issue_access_token(
            user_id=user.id, role=user.role, session_id=command.actor.session_id
        )
        return AuthenticatedUser.of(user, token)
