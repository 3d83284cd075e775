"""One-time tokens in the in-memory database."""

import copy
from collections.abc import Collection
from datetime import datetime

from adapters.memory.database import InMemoryDatabase
from application.users.ports import OneTimeTokenRepository
from domain.users.one_time_token import OneTimeToken, TokenPurpose
from domain.users.values import UserId

ONE_TIME_TOKENS = "one_time_tokens"


class InMemoryOneTimeTokenRepository(OneTimeTokenRepository):
    """The `OneTimeTokenRepository` port over the in-memory database."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database

    @property
    def _tokens(self) -> dict[str, OneTimeToken]:
        return self._database.table(ONE_TIME_TOKENS)

    async def add(self, token: OneTimeToken) -> None:
        """Store a copy."""
        self._tokens[token.token_hash] = copy.copy(token)

    async def consume(
        self, token_hash: str, purpose: TokenPurpose, *, now: datetime
    ) -> OneTimeToken | None:
        """Mark used and return it, if usable for this purpose."""
        token = self._usable(token_hash, purpose, now)
        if token is None:
            return None
        token.used_at = now
        return copy.copy(token)

    async def find_usable(
        self, token_hash: str, purpose: TokenPurpose, *, now: datetime
    ) -> OneTimeToken | None:
        """A copy, if usable for this purpose."""
        token = self._usable(token_hash, purpose, now)
        return None if token is None else copy.copy(token)

    def _usable(self, token_hash: str, purpose: TokenPurpose, now: datetime) -> OneTimeToken | None:
        token = self._tokens.get(token_hash)
        if token is None or token.purpose is not purpose or not token.usable(now):
            return None
        return token

    async def invalidate_all(
        self, user_id: UserId, purposes: Collection[TokenPurpose], *, now: datetime
    ) -> None:
        """Mark the user's unused tokens of these purposes used."""
        for token in self._tokens.values():
            if token.user_id == user_id and token.purpose in purposes and token.used_at is None:
                token.used_at = now

    async def purge_ended(self, *, before: datetime) -> int:
        """Forget tokens that can no longer be used."""
        ended = [
            token_hash
            for token_hash, token in self._tokens.items()
            if token.expires_at < before or (token.used_at is not None and token.used_at < before)
        ]
        for token_hash in ended:
            del self._tokens[token_hash]
        return len(ended)
