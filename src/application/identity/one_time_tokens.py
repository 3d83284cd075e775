"""Issuing one-time tokens and mailing them: what verification and reset share."""

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from application.notifications.send_templated_email import (
    SEND_TEMPLATED_EMAIL,
    SendTemplatedEmailCommand,
)
from application.ports.messaging import TaskQueue
from application.ports.persistence import OneTimeTokenRepository
from application.ports.security import SecretTokens
from application.ports.system import Clock
from domain.users.one_time_token import OneTimeToken, TokenPurpose
from domain.users.user import User


@dataclass(frozen=True, slots=True, kw_only=True)
class OneTimeTokenPolicy:
    """How long tokens last, and the public address that emailed links point to."""

    verification_ttl: timedelta
    reset_ttl: timedelta
    public_url: str

    def ttl(self, purpose: TokenPurpose) -> timedelta:
        """The lifetime for tokens of `purpose`."""
        return self.verification_ttl if purpose is TokenPurpose.VERIFY_EMAIL else self.reset_ttl


_TEMPLATES = {
    TokenPurpose.VERIFY_EMAIL: "verify_email",
    TokenPurpose.RESET_PASSWORD: "reset_password",
}
_PATHS = {
    TokenPurpose.VERIFY_EMAIL: "/verify-email",
    TokenPurpose.RESET_PASSWORD: "/reset-password",
}


class OneTimeTokenMailer:
    """Issues single-use tokens and mails them, for every flow that proves an address.

    `issue` stores the token in the caller's unit of work and returns the email carrying
    it; `send` enqueues that email and must be called only after the commit, so a
    rolled-back change never mails a link.
    """

    def __init__(
        self,
        *,
        tokens: OneTimeTokenRepository,
        secrets: SecretTokens,
        queue: TaskQueue,
        policy: OneTimeTokenPolicy,
        clock: Clock,
    ) -> None:
        self._tokens = tokens
        self._secrets = secrets
        self._queue = queue
        self._policy = policy
        self._clock = clock

    async def issue(self, user: User, purpose: TokenPurpose) -> SendTemplatedEmailCommand:
        """Store a new token for `user`; return the email that carries it."""
        token = self._secrets.new_token()
        ttl = self._policy.ttl(purpose)
        await self._tokens.add(
            OneTimeToken.issue(
                token_hash=self._secrets.fingerprint(token),
                user_id=user.id,
                purpose=purpose,
                now=self._clock.now(),
                ttl=ttl,
            )
        )
        link = f"{self._policy.public_url.rstrip('/')}{_PATHS[purpose]}?token={quote(token)}"
        return SendTemplatedEmailCommand(
            to=str(user.email),
            template=_TEMPLATES[purpose],
            context={
                "username": str(user.username),
                "token": token,
                "link": link,
                "valid_hours": str(int(ttl.total_seconds() // 3600) or 1),
            },
        )

    async def send(self, email: SendTemplatedEmailCommand) -> None:
        """Enqueue the email; call it only once the token's transaction has committed."""
        await self._queue.enqueue(SEND_TEMPLATED_EMAIL, email.as_payload())
