"""Fast stand-ins for the hasher and the token issuer, for tests of the core."""

import hashlib
import hmac
from datetime import datetime, timedelta
from uuid import UUID

from application.common.ports.clock import Clock
from application.common.ports.ids import IdGenerator
from application.common.ports.opaque_tokens import OpaqueTokens
from application.users.ports import AccessClaims, InvalidTokenError, PasswordHasher, TokenIssuer
from domain.users.values import Password, Role, UserId


class InMemoryPasswordHasher(PasswordHasher):
    """Salted SHA-256, versioned so that `needs_rehash` can be exercised; never for real use."""

    def __init__(self, *, version: int = 1) -> None:
        self._version = version
        self.verifications = 0

    async def hash(self, password: Password) -> str:
        """``fake$v<version>$<digest>``."""
        return f"fake$v{self._version}${self._digest(password.value)}"

    async def verify(self, password_hash: str | None, password: Password) -> bool:
        """Compare digests in constant time; count every call, a missing hash included."""
        self.verifications += 1
        if password_hash is None:
            return False
        expected = password_hash.rsplit("$", 1)[-1]
        return hmac.compare_digest(expected, self._digest(password.value))

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made by another version."""
        return not password_hash.startswith(f"fake$v{self._version}$")

    @staticmethod
    def _digest(plain: str) -> str:
        return hashlib.sha256(b"portico-test-salt:" + plain.encode()).hexdigest()


class InMemoryTokenIssuer(TokenIssuer):
    """Opaque tokens remembered in a dict; they expire by the injected clock."""

    def __init__(self, *, clock: Clock, ids: IdGenerator, ttl: timedelta) -> None:
        self._clock = clock
        self._ids = ids
        self._ttl = ttl
        self._issued: dict[str, AccessClaims] = {}

    def issue_access_token(
        self,
        *,
        user_id: UserId,
        role: Role,
        session_id: UUID | None = None,
        issued_at: datetime | None = None,
        token_id: UUID | None = None,
    ) -> str:
        """Remember and return an opaque token named after `token_id`, or a new id."""
        token = f"memtok-{token_id or self._ids.new_id()}"
        expires_at: datetime = (issued_at or self._clock.now()) + self._ttl
        self._issued[token] = AccessClaims(
            user_id=user_id,
            role=role,
            token_id=token,
            expires_at=expires_at,
            session_id=session_id,
        )
        return token

    def read_access_token(self, token: str) -> AccessClaims:
        """The claims of a token this issuer made and that has not expired."""
        claims = self._issued.get(token)
        if claims is None or claims.expires_at <= self._clock.now():
            raise InvalidTokenError("unknown or expired")
        return claims


class SequentialOpaqueTokens(OpaqueTokens):
    """Predictable tokens (``secret-1``, ``secret-2``, …) and a plain SHA-256, for tests."""

    def __init__(self) -> None:
        self._next = 1

    def new_token(self) -> str:
        """The next token in sequence."""
        token, self._next = f"secret-{self._next}", self._next + 1
        return token

    def fingerprint(self, token: str) -> str:
        """SHA-256 of the token, hex."""
        return hashlib.sha256(token.encode()).hexdigest()

    def successor(self, token: str) -> str:
        """``next-`` and 16 hex digits of a labelled SHA-256 of the token: the same every time."""
        return "next-" + hashlib.sha256(b"successor:" + token.encode()).hexdigest()[:16]

    def new_code(self, digits: int) -> str:
        """The next number in sequence, zero-padded to `digits`."""
        code, self._next = str(self._next % 10**digits).zfill(digits), self._next + 1
        return code
