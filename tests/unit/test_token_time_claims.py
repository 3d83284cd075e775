"""Access tokens whose time claims no datetime holds are invalid, never an exception.

A genuinely signed token can carry any JSON in ``exp``, ``iat`` and ``nbf`` (a leaked or
rotated-out secret, another service sharing it); PyJWT checks their order, not their range.
"""

from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt
import pytest

from adapters.memory.system import ManualClock, SequentialIdGenerator
from adapters.security.jwt_tokens import LATEST_TIME, JwtTokenIssuer
from application.users.ports import InvalidTokenError
from domain.users.values import Role, UserId

SECRET = "t" * 48
HUGE = 10**30


def _issuer() -> JwtTokenIssuer:
    return JwtTokenIssuer(
        secret=SECRET,
        algorithm="HS256",
        issuer="portico",
        audience="portico-api",
        ttl=timedelta(minutes=15),
        clock=ManualClock(datetime.now(UTC)),
        ids=SequentialIdGenerator(),
    )


def _resigned(tokens: JwtTokenIssuer, **claims: object) -> str:
    genuine = tokens.issue_access_token(user_id=UserId(UUID(int=7)), role=Role.USER)
    original = jwt.decode(genuine, options={"verify_signature": False})
    return jwt.encode(original | claims, SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": HUGE},
        {"exp": LATEST_TIME + 1},
        {"exp": 1e300},
        {"exp": datetime.now(UTC).timestamp() + 600},
        {"exp": "tomorrow"},
        {"exp": [1]},
        {"exp": True},
        {"iat": 1.5},
        {"iat": HUGE},
        {"iat": -1},
        {"iat": -1e300},
        {"iat": None},
        {"nbf": HUGE},
        {"nbf": -HUGE},
        {"nbf": 1.5},
        {"nbf": "now"},
    ],
    ids=str,
)
def test_a_malformed_time_claim_is_an_invalid_token(claims: dict[str, object]) -> None:
    tokens = _issuer()
    forged = _resigned(tokens, **claims)
    for _ in range(2):
        with pytest.raises(InvalidTokenError):
            tokens.read_access_token(forged)


def test_the_latest_time_a_claim_may_name_is_read_and_remembered() -> None:
    tokens = _issuer()
    token = _resigned(tokens, exp=LATEST_TIME)
    first = tokens.read_access_token(token)
    assert first.expires_at == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert tokens.read_access_token(token) == first  # from the memory of verified tokens


def test_a_token_as_issued_is_still_read() -> None:
    tokens = _issuer()
    token = tokens.issue_access_token(user_id=UserId(UUID(int=7)), role=Role.USER)
    assert tokens.read_access_token(token).user_id == UserId(UUID(int=7))
    assert tokens.read_access_token(_resigned(tokens, nbf=0)).role == Role.USER
