"""Use case: whether a mailed link's token can still be spent, before anything is asked of it."""

from dataclasses import dataclass, field

from application.common.ports.clock import Clock
from application.common.ports.opaque_tokens import OpaqueTokens
from application.users.one_time_tokens import redeemable
from application.users.ports import OneTimeTokenRepository, UserRepository
from domain.users.one_time_token import TokenPurpose


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckLinkTokenCommand:
    """The token from the link, and what the link is for."""

    token: str = field(repr=False)
    purpose: TokenPurpose


class CheckLinkToken:
    """Answer whether the token of a link would be accepted if it were spent now.

    Rules:
    - Yes exactly when the use case that spends a token of this purpose (`VerifyEmail`,
      `ConfirmPasswordReset`, `RestoreEmail`) would accept it: the conditions are the ones
      `redeem` checks, shared rather than restated.
    - A forged, wrong-purpose, expired or used token, one whose account is gone, and one
      that no longer serves its account (a verification link to an address the account no
      longer has) are all one answer, no, so the answer tells no more than a refused spend.
    - It changes nothing: the token is neither spent nor locked, and nothing is committed.
      A yes is only a forecast: the token may be spent or voided before it is used, and
      the spending use case checks again.
    """

    def __init__(
        self,
        *,
        users: UserRepository,
        tokens: OneTimeTokenRepository,
        secrets: OpaqueTokens,
        clock: Clock,
    ) -> None:
        self._users = users
        self._tokens = tokens
        self._secrets = secrets
        self._clock = clock

    async def __call__(self, command: CheckLinkTokenCommand) -> bool:
        """Look the token and its account up; True if it can be spent now."""
        return await redeemable(
            command.token,
            command.purpose,
            tokens=self._tokens,
            users=self._users,
            secrets=self._secrets,
            now=self._clock.now(),
        )
