"""Lockout without denial of service, against `portico serve` on PostgreSQL and Redis.

Clients are told apart by `X-Forwarded-For`, which the server believes from loopback
(TRUSTED_PROXIES); every request still goes to 127.0.0.1.
"""

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.cookies import SimpleCookie

import httpx
import pytest

from tests.support.network import free_port
from tests.support.server import RunningServer, clean_env, portico_server

pytestmark = pytest.mark.e2e

PASSWORD = "password123"
ATTACKER = "192.0.2.66"
OWNER = "203.0.113.7"
UNTRUSTED_LIMIT = 20


@pytest.fixture(scope="module")
def server(
    migrated_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    env = clean_env(
        DATABASE_URL=migrated_url,
        REDIS_URL=redis_url,
        DATA_DIR=str(tmp_path_factory.mktemp("lockout-data")),
        TRUSTED_PROXIES="127.0.0.1",
        RATE_LIMIT_AUTH_PER_IP="1000000",
        RATE_LIMIT_UNTRUSTED_LOGINS=str(UNTRUSTED_LIMIT),
    )
    with portico_server(free_port(), env, tmp_path_factory.mktemp("lockout")) as running:
        yield running


def login(
    client: httpx.Client, email: str, password: str, *, ip: str, device: str | None = None
) -> httpx.Response:
    """A sign-in from `ip`, presenting `device` as the cookie a browser would send back."""
    headers = {"X-Forwarded-For": ip}
    if device is not None:
        headers["Cookie"] = f"login_device={device}"
    body = {"user": {"email": email, "password": password}}
    return client.post("/api/users/login", json=body, headers=headers)


def new_account(server: RunningServer) -> str:
    name = f"u{uuid.uuid4().hex[:12]}"
    body = {"user": {"username": name, "email": f"{name}@test.com", "password": PASSWORD}}
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        assert client.post("/api/users", json=body).status_code == 201
    return f"{name}@test.com"


def owners_browser_signs_in(server: RunningServer, email: str) -> str:
    """Sign in once, check both cookies on the raw response, return the device token."""
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        response = login(client, email, PASSWORD, ip=OWNER)
    assert response.status_code == 200, response.text
    raw = response.headers.get_list("set-cookie")
    assert len(raw) == 2, raw
    cookies = SimpleCookie()
    for header in raw:
        cookies.load(header)
    assert set(cookies) == {"refresh_token", "login_device"}
    device = cookies["login_device"]
    assert (device["path"], device["samesite"], device["httponly"], device["secure"]) == (
        "/api/users/login",
        "Strict",
        True,
        True,
    )
    assert int(device["max-age"]) >= 86_400
    return device.value


def guess_many(server: RunningServer, email: str, count: int, *, ips: list[str]) -> Counter[int]:
    """`count` wrong passwords over keep-alive connections, round-robin over `ips`."""
    workers = 8

    def worker(offset: int) -> Counter[int]:
        statuses: Counter[int] = Counter()
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            for attempt in range(offset, count, workers):
                ip = ips[attempt % len(ips)]
                statuses[login(client, email, "wrong-password", ip=ip).status_code] += 1
        return statuses

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(worker, range(workers)), Counter())


def test_ten_thousand_wrong_passwords_do_not_lock_out_the_owners_browser(
    server: RunningServer,
) -> None:
    email = new_account(server)
    device = owners_browser_signs_in(server, email)
    started = time.monotonic()
    statuses = guess_many(server, email, 10_000, ips=[ATTACKER])
    refills = int((time.monotonic() - started) // (900 / 10))  # GCRA: one per 90 s
    assert set(statuses) <= {401, 429}, statuses
    assert 10 <= statuses[401] <= 10 + refills  # the strict limit per account and client
    assert statuses[429] == 10_000 - statuses[401]  # refused before any hash is computed
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        fresh = login(client, email, PASSWORD, ip=ATTACKER)
        assert fresh.status_code == 429  # a client the account has not seen: the trade-off
        assert int(fresh.headers["retry-after"]) >= 1
        started = time.monotonic()
        owner = login(client, email, PASSWORD, ip=ATTACKER, device=device)
        assert owner.status_code == 200, owner.text
        assert time.monotonic() - started < 5
        assert owner.json()["user"]["email"] == email
        elsewhere = login(client, email, PASSWORD, ip=OWNER, device=device)
        assert elsewhere.status_code == 200


def test_guesses_from_many_addresses_slow_every_new_client_but_not_a_known_one(
    server: RunningServer,
) -> None:
    email = new_account(server)
    device = owners_browser_signs_in(server, email)
    botnet = [f"198.51.100.{i}" for i in range(1, 201)]
    statuses = guess_many(server, email, 400, ips=botnet)
    assert statuses == Counter({401: UNTRUSTED_LIMIT, 429: 400 - UNTRUSTED_LIMIT})
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        newcomer = login(client, email, PASSWORD, ip="198.51.100.250")
        assert newcomer.status_code == 429  # slowed with the guessers until the limit refills
        assert int(newcomer.headers["retry-after"]) <= 3600 // UNTRUSTED_LIMIT
        assert login(client, email, PASSWORD, ip=OWNER, device=device).status_code == 200


def test_a_device_cookie_of_another_account_or_forged_is_not_trusted(
    server: RunningServer,
) -> None:
    victim = new_account(server)
    attacker = new_account(server)
    attackers_device = owners_browser_signs_in(server, attacker)
    ip = "192.0.2.77"
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        for _ in range(10):
            assert login(client, victim, "wrong", ip=ip).status_code == 401
        expires, nonce, _ = attackers_device.split(".")
        for device in (attackers_device, f"{expires}.{nonce}.forged", "junk"):
            # a trusted device would have its own fresh limit, and sign in
            assert login(client, victim, PASSWORD, ip=ip, device=device).status_code == 429


def test_the_browser_that_registered_is_a_known_device_at_once(server: RunningServer) -> None:
    name = f"u{uuid.uuid4().hex[:12]}"
    email = f"{name}@test.com"
    body = {"user": {"username": name, "email": email, "password": PASSWORD}}
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        registered = client.post("/api/users", json=body, headers={"X-Forwarded-For": OWNER})
        assert registered.status_code == 201
        cookies = SimpleCookie()
        for header in registered.headers.get_list("set-cookie"):
            cookies.load(header)
        assert set(cookies) == {"refresh_token", "login_device"}
        device = cookies["login_device"].value
        for _ in range(10):
            assert login(client, email, "wrong-password", ip=ATTACKER).status_code == 401
        assert login(client, email, PASSWORD, ip=ATTACKER).status_code == 429
        assert login(client, email, PASSWORD, ip=ATTACKER, device=device).status_code == 200
