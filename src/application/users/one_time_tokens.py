"""Issuing one-time tokens and mailing them: what verification and reset share."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import quote

from application.common.ports.clock import Clock
from application.common.ports.opaque_tokens import OpaqueTokens
from application.common.ports.task_queue import TaskQueue
from application.notifications.send_templated_email import (
    SEND_TEMPLATED_EMAIL,
    SendTemplatedEmailCommand,
)
from application.users.errors import OneTimeTokenNotFoundError
from application.users.ports import OneTimeTokenRepository, UserRepository
from application.users.security_notices import EMAIL_CHANGED
from domain.users.one_time_token import OneTimeToken, TokenPurpose
from domain.users.user import User
from domain.users.values import Email

BUILT_IN_LINK_PATHS: Mapping[TokenPurpose, str] = {
    TokenPurpose.VERIFY_EMAIL: "/verify-email?token={token}",
    TokenPurpose.RESET_PASSWORD: "/reset-password?token={token}",
    TokenPurpose.RESTORE_EMAIL: "/restore-email?token={token}",
}
"""Where each link leads under the service's own address: the pages it serves there."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OneTimeTokenPolicy:
    """How long tokens last, and where emailed links point.

    A link is `public_url` followed by its purpose's path, whose ``{token}`` is replaced by
    the token (percent-encoded): by default the service's own pages, or a web frontend's.
    """

    verification_ttl: timedelta
    reset_ttl: timedelta
    restore_ttl: timedelta
    public_url: str
    link_paths: Mapping[TokenPurpose, str] = field(
        default_factory=lambda: dict(BUILT_IN_LINK_PATHS)
    )

    def link(self, purpose: TokenPurpose, token: str) -> str:
        """The emailed link that carries `token` for `purpose`."""
        path = self.link_paths[purpose].replace("{token}", quote(token, safe=""))
        return f"{self.public_url.rstrip('/')}{path}"

    def ttl(self, purpose: TokenPurpose) -> timedelta:
        """The lifetime for tokens of `purpose`."""
        return {
            TokenPurpose.VERIFY_EMAIL: self.verification_ttl,
            TokenPurpose.RESET_PASSWORD: self.reset_ttl,
            TokenPurpose.RESTORE_EMAIL: self.restore_ttl,
        }[purpose]


_TEMPLATES = {
    TokenPurpose.VERIFY_EMAIL: "verify_email",
    TokenPurpose.RESET_PASSWORD: "reset_password",
    TokenPurpose.RESTORE_EMAIL: EMAIL_CHANGED,
}


class OneTimeTokenMailer:
    """Issues single-use tokens and mails them, for every flow that proves an address.

    `issue` stores the token in the caller's unit of work and returns the email carrying
    it; `send` enqueues that email and must be called only after the commit, so a
    rolled-back change never mails a link. Each token is bound to the address it is
    mailed to.
    """

    def __init__(
        self,
        *,
        tokens: OneTimeTokenRepository,
        secrets: OpaqueTokens,
        queue: TaskQueue,
        policy: OneTimeTokenPolicy,
        clock: Clock,
    ) -> None:
        self._tokens = tokens
        self._secrets = secrets
        self._queue = queue
        self._policy = policy
        self._clock = clock

    async def issue(
        self,
        user: User,
        purpose: TokenPurpose,
        *,
        to: Email | None = None,
        context: Mapping[str, str] | None = None,
    ) -> SendTemplatedEmailCommand:
        """Store a new token for `user`, bound to `to` (the current address by default).

        Returns the email that carries it to that address, with `context` added to the
        template's values. Reset and restore links count under the security cap, as the
        security notices do, so a flood of notifications cannot hold back a way back into
        the account; verification links count with ordinary mail, since a stranger can
        point an account at any address and ask for them.
        """
        address = user.email if to is None else to
        token = self._secrets.new_token()
        ttl = self._policy.ttl(purpose)
        await self._tokens.add(
            OneTimeToken.issue(
                token_hash=self._secrets.fingerprint(token),
                user_id=user.id,
                purpose=purpose,
                email=address,
                now=self._clock.now(),
                ttl=ttl,
            )
        )
        link = self._policy.link(purpose, token)
        hours = int(ttl.total_seconds() // 3600) or 1
        return SendTemplatedEmailCommand(
            to=str(address),
            template=_TEMPLATES[purpose],
            context={
                "username": str(user.username),
                "token": token,
                "link": link,
                "valid_hours": str(hours),
                "valid_days": str(max(hours // 24, 1)),
                **(context or {}),
            },
            security=purpose is not TokenPurpose.VERIFY_EMAIL,
        )

    async def send(self, email: SendTemplatedEmailCommand) -> None:
        """Enqueue the email; call it only once the token's transaction has committed."""
        await self._queue.enqueue(SEND_TEMPLATED_EMAIL, email.as_payload())


def _serves(token: OneTimeToken, user: User | None) -> bool:
    """Whether a usable token still serves its account, by what its purpose asks of it.

    The account must still exist. A verification link proves only the address it was
    mailed to, so that must still be the account's address; a restore link must name the
    address it gives back. A reset link asks nothing more.
    """
    if user is None:
        return False
    if token.purpose is TokenPurpose.VERIFY_EMAIL:
        return token.proves(user.email)
    if token.purpose is TokenPurpose.RESTORE_EMAIL:
        return token.email is not None
    return True


async def redeem(
    token: str,
    purpose: TokenPurpose,
    *,
    tokens: OneTimeTokenRepository,
    users: UserRepository,
    secrets: OpaqueTokens,
    now: datetime,
) -> tuple[OneTimeToken, User]:
    """Spend a link's token in the open transaction; the token and its account.

    A used, expired, unknown or wrong-purpose token, or one whose account is gone or that
    no longer serves it (`_serves`), is refused with one answer
    (`OneTimeTokenNotFoundError`), so a caller learns nothing from which; the caller's
    transaction must then roll back, which leaves the token unspent.
    """
    spent = await tokens.consume(secrets.fingerprint(token), purpose, now=now)
    user = await users.get(spent.user_id, for_update=True) if spent else None
    if spent is None or user is None or not _serves(spent, user):
        raise OneTimeTokenNotFoundError
    return spent, user


async def redeemable(
    token: str,
    purpose: TokenPurpose,
    *,
    tokens: OneTimeTokenRepository,
    users: UserRepository,
    secrets: OpaqueTokens,
    now: datetime,
) -> bool:
    """Whether `redeem` would accept the token now; it reads, and locks or spends nothing.

    The same conditions as `redeem`, by the same lookups, so the answer says no more than a
    refusal to spend does: an unknown, wrong-purpose, used or expired token is one miss.
    """
    found = await tokens.find_usable(secrets.fingerprint(token), purpose, now=now)
    user = await users.get(found.user_id) if found else None
    return found is not None and _serves(found, user)
