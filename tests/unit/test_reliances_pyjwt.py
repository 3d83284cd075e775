"""PyJWT: the signing internals behind the prepared key.

What each failure says, and what to do then: tests/support/reliance.py.
"""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import jwt
import pytest

from adapters.memory.system import ManualClock, SequentialIdGenerator
from adapters.security.jwt_tokens import JwtTokenIssuer
from domain.users.values import Role, UserId
from tests.support.reliance import Reliance

# --- PyJWT ---------------------------------------------------------------------------------


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@pytest.mark.parametrize(
    ("algorithm", "digest"),
    [("HS256", hashlib.sha256), ("HS384", hashlib.sha384), ("HS512", hashlib.sha512)],
)
def test_pyjwt_algorithm_objects_sign_and_tokens_match_jwt_encode(
    algorithm: str, digest: Any
) -> None:
    """Tokens are signed with PyJWT's algorithm object and a pre-encoded header."""
    secret = "k" * 64
    with Reliance("pyjwt", where="adapters/security/jwt_tokens.py (JwtTokenIssuer)") as pyjwt:
        from jwt.utils import base64url_encode  # noqa: PLC0415 - under the reliance

        signer = jwt.PyJWS().get_algorithm_by_name(algorithm)
        key = signer.prepare_key(secret)
        signature = signer.sign(b"header.payload", key)
        expected = hmac.new(secret.encode(), b"header.payload", digest).digest()
        pyjwt.check(
            signature == expected,
            f"PyJWS().get_algorithm_by_name({algorithm!r}).sign(msg, prepare_key(secret)) "
            "no longer returns the raw HMAC of msg",
        )
        pyjwt.check(
            base64url_encode(b"\xfb\xff") == b"-_8",
            "jwt.utils.base64url_encode no longer returns unpadded base64url bytes",
        )
        issuer = JwtTokenIssuer(
            secret=secret,
            algorithm=algorithm,
            issuer="portico",
            audience="portico-api",
            ttl=timedelta(minutes=15),
            clock=ManualClock(datetime(2026, 3, 1, tzinfo=UTC)),
            ids=SequentialIdGenerator(),
        )
        token = issuer.issue_access_token(
            user_id=UserId(UUID(int=7)), role=Role.USER, session_id=UUID(int=9)
        )
        claims = json.loads(_b64decode(token.split(".")[1]))
        reference = jwt.encode(claims, secret, algorithm=algorithm)
        pyjwt.check(
            token == reference,
            f"jwt.encode now makes {reference!r} for the claims where Portico makes {token!r} "
            "(header layout, JSON separators or signature changed)",
        )
        decoded = jwt.decode(
            token,
            secret,
            algorithms=[algorithm],
            audience="portico-api",
            issuer="portico",
            options={"verify_exp": False},
        )
        pyjwt.check(decoded == claims, "jwt.decode no longer accepts Portico's token")
