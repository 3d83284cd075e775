"""Outgoing messages cannot be turned into a weapon, against `portico serve` and a worker.

Service mode on PostgreSQL and Redis: the API relays events and runs the consumers, the
worker runs the jobs that send mail (to a real SMTP server) and texts (to a fake
Twilio-compatible gateway). Client addresses come through X-Forwarded-For from a trusted
proxy (the test), so one test can be several clients.

- A follow/unfollow loop x20 against one user mails the victim once.
- The follow notification names the follower by username; no payload carries their id.
- An SMS code loop over 100 distinct numbers is refused by the per-account limit, then the
  per-client limit, then the global budget (503 with Retry-After, one operator log line),
  and a number outside the allowed countries is a 422 naming `phone`.
"""

import json
import random
import time
import uuid
from collections.abc import Iterator

import httpx
import jwt
import pytest
import redis

from application.notifications.set_phone_number import BUDGET_ALARM_KEY, BUDGET_KEY
from tests.support.live_clients import SmsGateway
from tests.support.network import free_port
from tests.support.notifications import (
    Account,
    Inbox,
    Process,
    follow,
    next_notification,
    open_socket,
    portico_processes,
    sent_to,
    smtp_server,
    verify_email,
    wait_until_live,
)
from tests.support.server import clean_env

pytestmark = pytest.mark.e2e

PASSWORD = "password123"
CODES_PER_ACCOUNT = 3
CODES_PER_CLIENT = 5
CODES_BUDGET = 10
LOOPS = 20
BUDGET_ALARM = "SMS code budget"
RATE_LIMIT_PREFIX = "portico:ratelimit:"


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
def sms_gateway() -> Iterator[SmsGateway]:
    with SmsGateway().running() as gateway:
        yield gateway


@pytest.fixture(scope="module")
def stack(
    migrated_url: str,
    redis_url: str,
    smtp: tuple[Inbox, int],
    sms_gateway: SmsGateway,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Process, str]]:
    """`portico serve` and `portico worker`; the API process and its base URL."""
    run = f"m{uuid.uuid4().hex[:10]}"
    _, smtp_port = smtp
    client = redis.Redis.from_url(redis_url)
    try:  # the budget is global: a run within the hour before must not have spent it
        client.delete(*(RATE_LIMIT_PREFIX + key for key in (BUDGET_KEY, BUDGET_ALARM_KEY)))
    finally:
        client.close()
    env = clean_env(
        DATABASE_URL=migrated_url,
        DATA_DIR=str(tmp_path_factory.mktemp("abuse-data")),
        REDIS_URL=redis_url,
        JOBS_QUEUE="redis",
        JOBS_STREAM=f"{run}:jobs",
        REALTIME_CHANNEL_PREFIX=f"{run}:rt:",
        OUTBOX_POLL_INTERVAL_SECONDS="0.05",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_port),
        SMS_BASE_URL=sms_gateway.base_url,
        SMS_ACCOUNT_SID="AC-abuse",
        SMS_AUTH_TOKEN="abuse-token",
        SMS_FROM="+15005550006",
        TRUSTED_PROXIES="127.0.0.1",
        RATE_LIMIT_AUTH_PER_IP="100000",
        RATE_LIMIT_REGISTRATIONS_PER_IP="100000",
        RATE_LIMIT_PHONE_CODES=str(CODES_PER_ACCOUNT),
        RATE_LIMIT_PHONE_CODES_PER_IP=str(CODES_PER_CLIENT),
        SMS_CODES_BUDGET_PER_HOUR=str(CODES_BUDGET),
        SMS_ALLOWED_CALLING_CODES="1,44",
    )
    cwd = tmp_path_factory.mktemp("abuse")
    with portico_processes(cwd) as processes:
        port = free_port()
        api = processes.start("serve", ["serve"], {**env, "APP_PORT": str(port)})
        worker = processes.start("worker", ["worker"], env)
        base_url = f"http://127.0.0.1:{port}"
        wait_until_live(api, base_url)
        worker.wait_for_log("worker started", within=30)
        yield api, base_url
        client = redis.Redis.from_url(redis_url)
        try:
            client.delete(f"{run}:jobs")
        finally:
            client.close()


@pytest.fixture
def api(stack: tuple[Process, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack[1], timeout=10) as client:
        yield client


def random_ip() -> str:
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def register(api: httpx.Client, prefix: str, ip: str | None = None) -> Account:
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    address = f"{name}@test.com"
    body = {"user": {"username": name, "email": address, "password": PASSWORD}}
    response = api.post("/api/users", json=body, headers={"X-Forwarded-For": ip or random_ip()})
    assert response.status_code == 201, response.text
    return Account(username=name, email=address, token=response.json()["user"]["token"])


def user_id_of(account: Account) -> str:
    return str(jwt.decode(account.token, options={"verify_signature": False})["sub"])


def unfollow(api: httpx.Client, follower: Account, followee: Account) -> None:
    response = api.delete(f"/api/profiles/{followee.username}/follow", headers=follower.auth)
    assert response.status_code == 200, response.text


# --- the follow/unfollow loop -------------------------------------------------------------


def test_a_follow_unfollow_loop_mails_the_victim_once(
    api: httpx.Client, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    victim = register(api, "v")
    verify_email(api, inbox, victim)
    attacker = register(api, "x")
    for _ in range(LOOPS):
        follow(api, attacker, victim)
        unfollow(api, attacker, victim)
    sentinel = register(api, "s")
    follow(api, sentinel, victim)
    inbox.wait_for(sent_to(victim.email, f"{sentinel.username} started following"), within=30)
    time.sleep(1.0)  # anything of the loop still on its way would land now
    loop_mail = inbox.matching(sent_to(victim.email, f"{attacker.username} started following"))
    assert len(loop_mail) == 1, f"the victim got {len(loop_mail)} emails from {LOOPS} follows"
    listed = api.get("/api/notifications", params={"limit": 100}, headers=victim.auth)
    assert listed.status_code == 200, listed.text
    kinds = [(n["kind"], n["actor"]["username"]) for n in listed.json()["notifications"]]
    assert kinds.count(("new_follower", attacker.username)) == 1


def test_an_unverified_address_gets_no_notification_mail(
    api: httpx.Client, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    stranger = register(api, "u")  # someone else's address, never confirmed
    fan, sentinel = register(api, "f"), register(api, "s")
    follow(api, fan, stranger)
    follow(api, sentinel, stranger)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        page = api.get("/api/notifications", headers=stranger.auth).json()
        if page["notificationsCount"] == 2:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the follows never became notifications")
    time.sleep(1.0)
    assert inbox.matching(sent_to(stranger.email, "started following")) == []


# --- no internal ids of other users in payloads --------------------------------------------


def test_the_follow_notification_names_the_follower_by_username_only(
    api: httpx.Client, stack: tuple[Process, str]
) -> None:
    followee, follower = register(api, "e"), register(api, "r")
    follower_id = user_id_of(follower)
    with open_socket(stack[1], followee) as socket:
        follow(api, follower, followee)
        live = next_notification(socket, lambda n: n["kind"] == "new_follower", within=10)
    listed = api.get("/api/notifications", headers=followee.auth).json()["notifications"]
    for document in (live, *listed):
        assert document["subject"] == {"type": "user", "id": follower.username}
        assert document["actor"] == {"username": follower.username}
        assert follower_id not in json.dumps(document)


# --- the SMS code loop ---------------------------------------------------------------------


def set_phone(api: httpx.Client, account: Account, number: str, ip: str) -> httpx.Response:
    return api.put(
        "/api/user/phone",
        json={"phone": number},
        headers={**account.auth, "X-Forwarded-For": ip},
    )


def test_an_sms_code_loop_over_distinct_numbers_is_refused(
    api: httpx.Client, stack: tuple[Process, str], sms_gateway: SmsGateway
) -> None:
    process, _ = stack
    block = random.randrange(100, 900)
    numbers = [f"+1415{block}{index:04d}" for index in range(100)]

    outside = set_phone(api, register(api, "p"), "+4915123456789", random_ip())
    assert outside.status_code == 422, outside.text
    assert list(outside.json()["errors"]) == ["phone"]

    pumper_ip = random_ip()
    pumper = register(api, "p", pumper_ip)
    statuses = [set_phone(api, pumper, number, pumper_ip).status_code for number in numbers]
    assert statuses == [200] * CODES_PER_ACCOUNT + [429] * (100 - CODES_PER_ACCOUNT)

    sent_by_accounts = []
    for index in range(4):
        account = register(api, "q", pumper_ip)
        for attempt in range(2):
            number = numbers[10 + index * 2 + attempt]
            sent_by_accounts.append(set_phone(api, account, number, pumper_ip).status_code)
    allowed = CODES_PER_CLIENT - CODES_PER_ACCOUNT
    assert sent_by_accounts == [200] * allowed + [429] * (8 - allowed), "one client, many accounts"

    budget_left = CODES_BUDGET - CODES_PER_CLIENT
    answers = [
        set_phone(api, register(api, "b"), numbers[50 + index], random_ip())
        for index in range(budget_left + 5)
    ]
    assert [a.status_code for a in answers] == [200] * budget_left + [503] * 5
    spent = answers[-1]
    assert int(spent.headers["retry-after"]) >= 1
    assert list(spent.json()["errors"]) == ["phone"]

    texted = {numbers[i] for i in range(CODES_PER_ACCOUNT)}
    texted |= {numbers[10 + i] for i in range(allowed)}
    texted |= {numbers[50 + i] for i in range(budget_left)}
    wait_for_texts(sms_gateway, texted)
    assert {m.form["To"] for m in sms_gateway.messages if m.form.get("To") in numbers} == texted
    assert process.log().count(BUDGET_ALARM) == 1, "one operator line per budget window"


def wait_for_texts(gateway: SmsGateway, numbers: set[str], within: float = 30) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if all(gateway.sent_to(number) for number in numbers):
            time.sleep(0.5)  # a text that should not come would come now
            return
        time.sleep(0.1)
    missing = [number for number in numbers if not gateway.sent_to(number)]
    raise AssertionError(f"no text to {missing}")
