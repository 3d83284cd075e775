"""Access tokens as signed JWTs (PyJWT)."""

from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt
import msgspec
from jwt.utils import base64url_encode

from application.common.ports.clock import Clock
from application.common.ports.ids import IdGenerator
from application.users.ports import AccessClaims, InvalidTokenError, TokenIssuer
from domain.users.values import Role, UserId

REQUIRED_CLAIMS = ("sub", "exp", "iat", "iss", "aud", "jti")
TIME_CLAIMS = ("exp", "iat", "nbf")
LATEST_TIME = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())
"""A time claim is whole seconds from 1970 up to the end of year 9999, as this issuer writes."""
LEEWAY = timedelta(seconds=5)


class JwtTokenIssuer(TokenIssuer):
    """The `TokenIssuer` port: short-lived JWTs signed with one configured algorithm.

    Reading accepts exactly that algorithm, so ``alg: none`` and algorithm swaps fail, and
    requires every claim in REQUIRED_CLAIMS with the configured issuer and audience. Each
    time claim present (TIME_CLAIMS) must be an integer from 0 to LATEST_TIME: PyJWT lets a
    float or a date past year 9999 through, which no datetime can hold. Any token that fails
    a check is `InvalidTokenError`, never another exception.

    A client sends the same token on every request for its whole lifetime, so the claims of
    the last `verified_cache_size` tokens that passed are kept, keyed by the exact token
    text; a hit only re-checks the expiry. Only verified tokens enter, so the cache can
    never accept a token that the full check would refuse.

    Signing uses PyJWT's implementation of the algorithm, with the key prepared and the
    header encoded once: `jwt.encode` re-validated the key and re-encoded the header for
    every token, a tenth of a sign-in's Python. For ASCII claims a token is byte-for-byte
    what `jwt.encode` makes; a non-ASCII issuer or audience is written as UTF-8 where
    `jwt.encode` escapes it, which every JSON reader decodes to the same claims.
    """

    def __init__(
        self,
        *,
        secret: str,
        algorithm: str,
        issuer: str,
        audience: str,
        ttl: timedelta,
        clock: Clock,
        ids: IdGenerator,
        verified_cache_size: int = 10_000,
    ) -> None:
        self._verified: OrderedDict[str, AccessClaims] = OrderedDict()
        self._verified_cache_size = verified_cache_size
        self._secret = secret
        self._algorithm = algorithm
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl
        self._clock = clock
        self._ids = ids
        # PyJWT's signing internals: tests/unit/test_reliances_pyjwt.py
        self._signer = jwt.PyJWS().get_algorithm_by_name(algorithm)
        self._signing_key = self._signer.prepare_key(secret)
        header = msgspec.json.encode({"alg": algorithm, "typ": "JWT"})
        self._encoded_header = base64url_encode(header) + b"."

    def issue_access_token(
        self,
        *,
        user_id: UserId,
        role: Role,
        session_id: UUID | None = None,
        issued_at: datetime | None = None,
        token_id: UUID | None = None,
    ) -> str:
        """Sign a token for the user, valid for the configured lifetime from `issued_at`.

        HMAC signing is deterministic, so the same claims give the same token: a refresh
        answered twice (`RefreshSession`'s grace period) passes the same time and id.
        """
        now = issued_at or self._clock.now()
        claims: dict[str, object] = {
            "sub": str(user_id),
            "role": role.value,
            "iat": int(now.timestamp()),
            "exp": int((now + self._ttl).timestamp()),
            "iss": self._issuer,
            "aud": self._audience,
            "jti": str(token_id or self._ids.new_id()),
        }
        if session_id is not None:
            claims["sid"] = str(session_id)
        signing_input = self._encoded_header + base64url_encode(msgspec.json.encode(claims))
        signature = self._signer.sign(signing_input, self._signing_key)
        return (signing_input + b"." + base64url_encode(signature)).decode()

    def read_access_token(self, token: str) -> AccessClaims:
        """Verify signature, algorithm, expiry, issuer and audience; return the claims."""
        known = self._verified.get(token)
        if known is not None:
            if known.expires_at <= self._clock.now() - LEEWAY:
                del self._verified[token]
                raise InvalidTokenError("ExpiredSignatureError")
            self._verified.move_to_end(token)
            return known
        verified = self._verify(token)
        if self._verified_cache_size > 0:
            self._verified[token] = verified
            if len(self._verified) > self._verified_cache_size:
                self._verified.popitem(last=False)
        return verified

    def _verify(self, token: str) -> AccessClaims:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": list(REQUIRED_CLAIMS)},
                leeway=LEEWAY,
            )
            _check_time_claims(claims)
            return AccessClaims(
                user_id=UserId(UUID(str(claims["sub"]))),
                role=Role(claims.get("role", Role.USER.value)),
                token_id=str(claims["jti"]),
                expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=UTC),
                session_id=UUID(str(claims["sid"])) if "sid" in claims else None,
            )
        except (jwt.PyJWTError, ValueError, KeyError, TypeError, ArithmeticError) as exc:
            raise InvalidTokenError(type(exc).__name__) from None


def _check_time_claims(claims: dict[str, object]) -> None:
    for name in TIME_CLAIMS:
        value = claims.get(name, 0)
        if type(value) is not int or not 0 <= value <= LATEST_TIME:
            raise InvalidTokenError(f"malformed {name}")
