"""argon2id hashing and JWT access tokens, with the real libraries."""

import asyncio
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import jwt
import pytest

from adapters.memory.system import ManualClock, SequentialIdGenerator
from adapters.security.argon2_hasher import Argon2PasswordHasher
from adapters.security.jwt_tokens import JwtTokenIssuer
from application.users.ports import InvalidTokenError
from domain.users.values import Password, Role, UserId

SECRET = "s" * 48
USER = UserId(UUID(int=7))


@pytest.fixture(scope="module")
def hasher() -> Iterator[Argon2PasswordHasher]:
    hasher = Argon2PasswordHasher(time_cost=2, memory_kib=19_456, parallelism=1, max_concurrency=2)
    yield hasher
    hasher.close()


async def test_hash_verify_and_reject(hasher: Argon2PasswordHasher) -> None:
    password = Password.parse("correct horse")
    hashed = await hasher.hash(password)
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await hasher.verify(hashed, password)
    assert not await hasher.verify(hashed, Password.parse("wrong horse"))
    assert not await hasher.verify("not-a-hash", password)
    assert not hasher.needs_rehash(hashed)


async def test_a_missing_hash_costs_a_real_verification(hasher: Argon2PasswordHasher) -> None:
    password = Password.parse("correct horse")
    hashed = await hasher.hash(password)
    started = time.perf_counter()
    await hasher.verify(hashed, password)
    real = time.perf_counter() - started
    started = time.perf_counter()
    assert not await hasher.verify(None, password)
    dummy = time.perf_counter() - started
    assert dummy > real / 10, "no real verification ran for the missing hash"


async def test_weaker_hashes_need_rehashing(hasher: Argon2PasswordHasher) -> None:
    stronger = Argon2PasswordHasher(
        time_cost=3, memory_kib=19_456, parallelism=1, max_concurrency=1
    )
    try:
        old = await hasher.hash(Password.parse("correct horse"))
        assert stronger.needs_rehash(old)
        assert await stronger.verify(old, Password.parse("correct horse"))
    finally:
        stronger.close()


def test_parameters_below_owasp_are_refused() -> None:
    with pytest.raises(ValueError, match="OWASP"):
        Argon2PasswordHasher(time_cost=1, memory_kib=19_456, parallelism=1, max_concurrency=1)
    with pytest.raises(ValueError, match="OWASP"):
        Argon2PasswordHasher(time_cost=2, memory_kib=8_192, parallelism=1, max_concurrency=1)


async def test_hashing_does_not_block_the_event_loop(hasher: Argon2PasswordHasher) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    await asyncio.gather(*(hasher.hash(Password.parse("correct horse")) for _ in range(6)))
    elapsed = time.perf_counter() - started
    task.cancel()
    assert elapsed > 0.05
    assert ticks >= 3, "the loop stalled while hashing"


def thread_niceness() -> dict[int, int]:
    """Each thread of this process, by id, with its nice value (from /proc)."""
    values = {}
    for task in Path("/proc/self/task").iterdir():
        fields = (task / "stat").read_text().rpartition(")")[2].split()
        values[int(task.name)] = int(fields[16])
    return values


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
async def test_hashing_threads_run_below_the_loops_priority() -> None:
    before = thread_niceness()
    loop_thread = threading.get_native_id()
    hasher = Argon2PasswordHasher(
        time_cost=2, memory_kib=19_456, parallelism=1, max_concurrency=2, niceness=7
    )
    try:
        await asyncio.gather(*(hasher.hash(Password.parse("correct horse")) for _ in range(2)))
        after = thread_niceness()
    finally:
        hasher.close()
    started = [nice for thread, nice in after.items() if thread not in before]
    assert min(19, before[loop_thread] + 7) in started, "no thread was started lowered by 7"
    assert after[loop_thread] == before[loop_thread]


def issuer(clock: ManualClock, **overrides: object) -> JwtTokenIssuer:
    options: dict[str, Any] = {
        "secret": SECRET,
        "algorithm": "HS256",
        "issuer": "portico",
        "audience": "portico-api",
        "ttl": timedelta(minutes=15),
        "clock": clock,
        "ids": SequentialIdGenerator(),
    }
    options.update(overrides)
    return JwtTokenIssuer(**options)


def real_clock() -> ManualClock:
    return ManualClock(datetime.now(UTC))


def test_a_token_round_trips_with_every_required_claim() -> None:
    tokens = issuer(real_clock())
    token = tokens.issue_access_token(user_id=USER, role=Role.MODERATOR)
    claims = tokens.read_access_token(token)
    assert (claims.user_id, claims.role) == (USER, Role.MODERATOR)
    raw = jwt.decode(token, options={"verify_signature": False})
    assert {"sub", "exp", "iat", "iss", "aud", "jti"} <= set(raw)


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_a_token_is_what_pyjwt_makes_of_its_claims(algorithm: str) -> None:
    secret = "k" * 64
    tokens = issuer(real_clock(), algorithm=algorithm, secret=secret)
    token = tokens.issue_access_token(user_id=USER, role=Role.ADMIN, session_id=UUID(int=9))
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header == {"alg": algorithm, "typ": "JWT"}
    assert token == jwt.encode(claims, secret, algorithm=algorithm)
    assert jwt.decode(token, secret, algorithms=[algorithm], audience="portico-api")["sid"] == (
        str(UUID(int=9))
    )


def test_an_expired_token_is_refused() -> None:
    clock = real_clock()
    tokens = issuer(clock)
    token = tokens.issue_access_token(user_id=USER, role=Role.USER)
    later = issuer(ManualClock(clock.now() - timedelta(hours=1)))
    with pytest.raises(InvalidTokenError):
        tokens.read_access_token(later.issue_access_token(user_id=USER, role=Role.USER))
    assert tokens.read_access_token(token).user_id == USER


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda claims: jwt.encode(claims, key="", algorithm="none"), id="alg-none"),
        pytest.param(lambda claims: jwt.encode(claims, SECRET, algorithm="HS512"), id="alg-swap"),
        pytest.param(
            lambda claims: jwt.encode(claims, "x" * 48, algorithm="HS256"), id="other-key"
        ),
        pytest.param(
            lambda claims: jwt.encode({**claims, "aud": "someone-else"}, SECRET, algorithm="HS256"),
            id="wrong-audience",
        ),
        pytest.param(
            lambda claims: jwt.encode({**claims, "iss": "evil"}, SECRET, algorithm="HS256"),
            id="wrong-issuer",
        ),
        pytest.param(
            lambda claims: jwt.encode(
                {k: v for k, v in claims.items() if k != "jti"}, SECRET, algorithm="HS256"
            ),
            id="missing-jti",
        ),
        pytest.param(
            lambda claims: jwt.encode({**claims, "sub": "not-a-uuid"}, SECRET, algorithm="HS256"),
            id="bad-subject",
        ),
        pytest.param(lambda _: "garbage.token.value", id="garbage"),
    ],
)
def test_forged_and_foreign_tokens_are_refused(forge: Callable[[dict[str, Any]], str]) -> None:
    tokens = issuer(real_clock())
    genuine = tokens.issue_access_token(user_id=USER, role=Role.ADMIN)
    claims = jwt.decode(genuine, options={"verify_signature": False})
    with pytest.raises(InvalidTokenError):
        tokens.read_access_token(forge(claims))


def test_a_remembered_token_still_expires() -> None:
    clock = real_clock()
    tokens = issuer(clock)
    token = tokens.issue_access_token(user_id=USER, role=Role.USER)
    assert tokens.read_access_token(token).user_id == USER
    assert tokens.read_access_token(token).user_id == USER
    clock.advance(timedelta(minutes=15, seconds=6))
    with pytest.raises(InvalidTokenError):
        tokens.read_access_token(token)


def test_remembering_a_genuine_token_does_not_admit_its_forgeries() -> None:
    tokens = issuer(real_clock())
    genuine = tokens.issue_access_token(user_id=USER, role=Role.USER)
    tokens.read_access_token(genuine)
    claims = jwt.decode(genuine, options={"verify_signature": False})
    promoted = jwt.encode({**claims, "role": "admin"}, "x" * 48, algorithm="HS256")
    header, payload, signature = genuine.split(".")
    for forged in (promoted, f"{header}.{payload}.{signature[:-2]}AA", genuine + " "):
        with pytest.raises(InvalidTokenError):
            tokens.read_access_token(forged)


def test_the_memory_of_verified_tokens_is_bounded() -> None:
    tokens = issuer(real_clock(), verified_cache_size=2)
    issued = [tokens.issue_access_token(user_id=USER, role=Role.USER) for _ in range(3)]
    for token in issued:
        tokens.read_access_token(token)
    assert list(tokens._verified) == issued[1:]


def test_a_token_dated_and_named_by_the_caller_is_the_same_every_time() -> None:
    clock = real_clock()
    tokens = issuer(clock)
    issued_at = clock.now() - timedelta(seconds=3)
    twice = [
        tokens.issue_access_token(
            user_id=USER,
            role=Role.USER,
            session_id=UUID(int=9),
            issued_at=issued_at,
            token_id=UUID(int=42),
        )
        for _ in range(2)
    ]
    assert twice[0] == twice[1]
    raw = jwt.decode(twice[0], options={"verify_signature": False})
    assert (raw["iat"], raw["jti"]) == (int(issued_at.timestamp()), str(UUID(int=42)))
    assert raw["exp"] == int((issued_at + timedelta(minutes=15)).timestamp())
    first, second = (tokens.read_access_token(token) for token in twice)
    assert first == second
    assert first.token_id == str(UUID(int=42))
    assert tokens.issue_access_token(user_id=USER, role=Role.USER) != twice[0]
