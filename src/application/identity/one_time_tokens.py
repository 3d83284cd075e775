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


async def issue_token(
    *,
    user: User,
    purpose: TokenPurpose,
    tokens: OneTimeTokenRepository,
    secrets: SecretTokens,
    policy: OneTimeTokenPolicy,
    clock: Clock,
) -> SendTemplatedEmailCommand:
    """Store a new token in the caller's transaction; return the email that carries it."""
    token = secrets.new_token()
    await tokens.add(
        OneTimeToken.issue(
            token_hash=secrets.fingerprint(token),
            user_id=user.id,
            purpose=purpose,
            now=clock.now(),
            ttl=policy.ttl(purpose),
        )
    )
    hours = int(policy.ttl(purpose).total_seconds() // 3600) or 1
    return SendTemplatedEmailCommand(
        to=str(user.email),
        template=_TEMPLATES[purpose],
        context={
            "username": str(user.username),
            "token": token,
            "link": f"{policy.public_url.rstrip('/')}{_PATHS[purpose]}?token={quote(token)}",
            "valid_hours": str(hours),
        },
    )


async def send_after_commit(queue: TaskQueue, email: SendTemplatedEmailCommand) -> None:
    """Enqueue the email; call it only once the token's transaction has committed."""
    await queue.enqueue(SEND_TEMPLATED_EMAIL, email.as_payload())
