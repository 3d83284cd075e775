"""Notifications over HTTP against `portico serve` on PostgreSQL: SSE, REST, push, phone.

The Server-Sent Events stream, who may read and mark which notification, paging, the
unread count and preferences, Web Push subscriptions and the texted phone code, all
against one `protocol_server` with a local SMS gateway that may log no 5xx, no error and
no traceback.
"""

import base64
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.live_clients import (
    Account,
    SmsGateway,
    eventually,
)
from tests.support.notifications_protocol import (
    MISSING_TOKEN,
    SMS_ACCOUNT,
    SMS_FROM,
    SMS_TOKEN,
    b64url,
    browser_keys,
    email_to,
    follow,
    followed_by,
    listed,
    notifications_of,
    protocol_server,
    unread_count,
    verify_email,
)
from tests.support.server import RunningServer

pytestmark = pytest.mark.e2e

NOT_FOUND = {"errors": {"notification": ["not found"]}}
KINDS = (
    "new_follower",
    "new_article",
    "new_comment",
    "article_favorited",
    "new_login",
    "password_changed",
)
CHANNELS = ("in_app", "email", "sms", "push")


@pytest.fixture(scope="module")
def sms_gateway() -> Iterator[SmsGateway]:
    with SmsGateway().running() as gateway:
        yield gateway


@pytest.fixture(scope="module")
def mail_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("notifications-mail")


@pytest.fixture(scope="module")
def server(
    migrated_url: str,
    sms_gateway: SmsGateway,
    mail_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningServer]:
    with protocol_server(migrated_url, sms_gateway, mail_dir, tmp_path_factory) as running:
        yield running


@pytest.fixture
async def api(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        yield client


# --- REST: ownership -----------------------------------------------------------------------


async def test_nobody_reads_or_marks_another_users_notifications(api: httpx.AsyncClient) -> None:
    owner, intruder = await Account.register(api), await Account.register(api)
    _, mine = await followed_by(api, owner, 2)
    _, theirs = await followed_by(api, intruder, 1)
    target = mine[0]["id"]

    stolen = await api.post(f"/api/notifications/{target}/read", headers=intruder.headers)
    assert stolen.status_code == 404
    assert stolen.json() == NOT_FOUND
    for bad in ("not-a-uuid", "12345", str(uuid.uuid4())):
        response = await api.post(f"/api/notifications/{bad}/read", headers=intruder.headers)
        assert response.status_code == 404, bad
        assert response.json() == NOT_FOUND
    assert all(item["readAt"] is None for item in (await listed(api, owner))["notifications"])

    intruder_ids = {item["id"] for item in (await listed(api, intruder))["notifications"]}
    assert intruder_ids == {theirs[0]["id"]}
    assert await unread_count(api, intruder) == 1
    assert await unread_count(api, owner) == 2

    marked = await api.post("/api/notifications/read-all", headers=intruder.headers)
    assert marked.status_code == 200
    assert marked.json() == {"marked": 1, "unreadCount": 0}
    assert await unread_count(api, intruder) == 0
    assert await unread_count(api, owner) == 2

    own = await api.post(f"/api/notifications/{target}/read", headers=owner.headers)
    assert own.status_code == 200
    assert own.json()["notification"]["id"] == target
    assert own.json()["notification"]["readAt"] is not None
    assert await unread_count(api, owner) == 1


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/notifications", None),
        ("GET", "/api/notifications/unread-count", None),
        ("POST", f"/api/notifications/{uuid.uuid4()}/read", None),
        ("POST", "/api/notifications/read-all", None),
        ("GET", "/api/notifications/preferences", None),
        ("PUT", "/api/notifications/preferences", {"preferences": {}}),
        ("GET", "/api/notifications/stream", None),
        ("POST", "/api/push/subscriptions", {"endpoint": "https://p.example/x", "keys": {}}),
        ("DELETE", "/api/push/subscriptions", {"endpoint": "https://p.example/x"}),
        ("GET", "/api/user/phone", None),
        ("PUT", "/api/user/phone", {"phone": "+14155550100"}),
        ("DELETE", "/api/user/phone", None),
        ("POST", "/api/user/phone/verify", {"code": "123456"}),
    ],
)
async def test_every_notification_route_needs_a_token(
    api: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = await api.request(method, path, json=body)
    assert response.status_code == 401, response.text
    assert response.json() == MISSING_TOKEN


# --- REST: behaviour -----------------------------------------------------------------------


async def test_pages_the_unread_filter_and_the_unread_count(api: httpx.AsyncClient) -> None:
    user = await Account.register(api)
    _, items = await followed_by(api, user, 5)
    assert [item["kind"] for item in items] == ["new_follower"] * 5
    created = [item["createdAt"] for item in items]
    assert created == sorted(created, reverse=True), "newest first"

    first = await listed(api, user, limit=2)
    second = await listed(api, user, limit=2, offset=2)
    past = await listed(api, user, limit=2, offset=10)
    assert first == {"notifications": items[:2], "notificationsCount": 5}
    assert second == {"notifications": items[2:4], "notificationsCount": 5}
    assert past == {"notifications": [], "notificationsCount": 5}
    for params, field in [
        ({"limit": 101}, "limit"),
        ({"limit": 1000}, "limit"),
        ({"limit": -1}, "limit"),
        ({"offset": -1}, "offset"),
    ]:
        response = await api.get("/api/notifications", params=params, headers=user.headers)
        assert response.status_code == 422, params
        assert list(response.json()["errors"]) == [field], response.json()

    assert await unread_count(api, user) == 5
    read = await api.post(f"/api/notifications/{items[1]['id']}/read", headers=user.headers)
    assert read.status_code == 200
    again = await api.post(f"/api/notifications/{items[1]['id']}/read", headers=user.headers)
    assert again.json()["notification"]["readAt"] == read.json()["notification"]["readAt"]
    assert await unread_count(api, user) == 4
    unread = await listed(api, user, unread="true")
    assert unread["notificationsCount"] == 4
    assert [item["id"] for item in unread["notifications"]] == [
        item["id"] for item in items if item["id"] != items[1]["id"]
    ]
    everything = await listed(api, user)
    assert everything["notificationsCount"] == 5

    marked = await api.post("/api/notifications/read-all", headers=user.headers)
    assert marked.json() == {"marked": 4, "unreadCount": 0}
    assert await unread_count(api, user) == 0
    assert (await listed(api, user, unread="true"))["notifications"] == []


async def test_preferences_list_every_kind_and_channel_and_keep_partial_changes(
    api: httpx.AsyncClient,
) -> None:
    user = await Account.register(api)
    response = await api.get("/api/notifications/preferences", headers=user.headers)
    assert response.status_code == 200
    defaults = response.json()["preferences"]
    assert set(defaults) == set(KINDS)
    for kind in KINDS:
        assert set(defaults[kind]) == set(CHANNELS), kind
        assert all(isinstance(on, bool) for on in defaults[kind].values())
        assert defaults[kind]["in_app"] is True, kind
    assert defaults["password_changed"] == dict.fromkeys(CHANNELS, True)
    assert defaults["new_follower"] == {"in_app": True, "email": True, "sms": False, "push": True}
    assert defaults["article_favorited"]["email"] is False

    change = {"preferences": {"new_comment": {"email": False, "sms": True}}}
    updated = await api.put("/api/notifications/preferences", json=change, headers=user.headers)
    assert updated.status_code == 200, updated.text
    expected = {**defaults, "new_comment": {**defaults["new_comment"], "email": False, "sms": True}}
    assert updated.json()["preferences"] == expected
    reread = await api.get("/api/notifications/preferences", headers=user.headers)
    assert reread.json()["preferences"] == expected

    for bad in [
        {"new_kind": {"email": True}},
        {"new_comment": {"carrier_pigeon": True}},
        {"password_changed": {"email": False}},
        {"new_login": {"email": False, "push": False}},
    ]:
        refused = await api.put(
            "/api/notifications/preferences", json={"preferences": bad}, headers=user.headers
        )
        assert refused.status_code == 422, (bad, refused.text)
        assert list(refused.json()["errors"]) == ["preferences"], refused.json()
    final = await api.get("/api/notifications/preferences", headers=user.headers)
    assert final.json()["preferences"] == expected, "a refused change changed something"


async def test_turning_off_in_app_hides_the_next_follow(
    api: httpx.AsyncClient, mail_dir: Path
) -> None:
    user, early, late = [await Account.register(api) for _ in range(3)]
    await verify_email(api, mail_dir, user)  # notification mail goes only to verified addresses
    await follow(api, early, user)
    await notifications_of(api, user, 1)
    change = {"preferences": {"new_follower": {"in_app": False}}}
    response = await api.put("/api/notifications/preferences", json=change, headers=user.headers)
    assert response.status_code == 200
    assert response.json()["preferences"]["new_follower"]["in_app"] is False
    await follow(api, late, user)
    # The email channel is still on: once its email is written, the notification exists.
    await email_to(mail_dir, user.email, f"{late.name} started following you")
    page = await listed(api, user)
    assert [item["actor"] for item in page["notifications"]] == [{"username": early.name}]
    assert page["notificationsCount"] == 1
    assert await unread_count(api, user) == 1


# --- REST: Web Push subscriptions ----------------------------------------------------------


async def test_push_subscriptions_are_checked_stored_and_removed(api: httpx.AsyncClient) -> None:
    key = await api.get("/api/push/vapid-public-key")
    assert key.status_code == 200
    assert key.json() == {"publicKey": None}

    user = await Account.register(api)
    keys = browser_keys()
    endpoint = f"https://push.example.com/send/{uuid.uuid4().hex}"
    subscription = {"endpoint": endpoint, "keys": keys, "expirationTime": None}
    created = await api.post("/api/push/subscriptions", json=subscription, headers=user.headers)
    assert created.status_code == 201, created.text
    assert created.json()["endpoint"] == endpoint
    assert created.json()["keys"] == keys
    again = await api.post("/api/push/subscriptions", json=subscription, headers=user.headers)
    assert again.status_code == 201, "subscribing again replaces"

    short_point = b64url(base64.urlsafe_b64decode(keys["p256dh"] + "==")[:33])
    for body, field in [
        ({"endpoint": "ftp://push.example.com/x", "keys": keys}, "endpoint"),
        ({"endpoint": "not a url", "keys": keys}, "endpoint"),
        ({"endpoint": "https://", "keys": keys}, "endpoint"),
        ({"endpoint": "https://" + "a" * 2048, "keys": keys}, "endpoint"),
        ({"endpoint": endpoint, "keys": {**keys, "p256dh": short_point}}, "p256dh"),
        ({"endpoint": endpoint, "keys": {**keys, "p256dh": "%%% not base64 %%%"}}, "p256dh"),
        ({"endpoint": endpoint, "keys": {**keys, "auth": b64url(os.urandom(8))}}, "auth"),
        ({"endpoint": endpoint, "keys": {**keys, "auth": "!!"}}, "auth"),
    ]:
        refused = await api.post("/api/push/subscriptions", json=body, headers=user.headers)
        assert refused.status_code == 422, (body, refused.text)
        assert list(refused.json()["errors"]) == [field], refused.json()

    for _ in range(2):  # present, then absent: both 204
        gone = await api.request(
            "DELETE", "/api/push/subscriptions", json={"endpoint": endpoint}, headers=user.headers
        )
        assert gone.status_code == 204, gone.text
    never = await api.request(
        "DELETE",
        "/api/push/subscriptions",
        json={"endpoint": "https://push.example.com/never"},
        headers=user.headers,
    )
    assert never.status_code == 204


async def test_a_malformed_endpoint_url_is_a_422_not_a_500(api: httpx.AsyncClient) -> None:
    user = await Account.register(api)
    malformed = {"endpoint": "https://[::1/push", "keys": browser_keys()}
    refused = await api.post("/api/push/subscriptions", json=malformed, headers=user.headers)
    assert refused.status_code == 422, (
        f"a malformed IPv6 endpoint is answered {refused.status_code} {refused.text}: "
        "urlsplit's ValueError escapes PushSubscription.create"
    )
    assert list(refused.json()["errors"]) == ["endpoint"]


# --- REST: phone number --------------------------------------------------------------------


async def test_a_phone_number_is_verified_by_the_code_it_was_texted(
    api: httpx.AsyncClient, sms_gateway: SmsGateway
) -> None:
    user = await Account.register(api)
    number = f"+1415{uuid.uuid4().int % 10_000_000:07d}"
    masked = number[:2] + "*" * (len(number) - 4) + number[-2:]

    for bad in ("12345", "0014155550100", "+1 415 call me", ""):
        refused = await api.put("/api/user/phone", json={"phone": bad}, headers=user.headers)
        assert refused.status_code == 422, (bad, refused.text)
        assert list(refused.json()["errors"]) == ["phone"], refused.json()
    assert (await api.get("/api/user/phone", headers=user.headers)).json() == {"phone": None}

    async def texted(count: int) -> str:
        async def probe() -> str | None:
            sent = sms_gateway.sent_to(number)
            return sent[-1].form["Body"] if len(sent) >= count else None

        body = await eventually(probe, what=f"SMS #{count} to {number}")
        found = re.search(r"\b(\d{6})\b", body)
        assert found, body
        return found.group(1)

    typed = number[:2] + " (" + number[2:5] + ") " + number[5:8] + "-" + number[8:]
    given = await api.put("/api/user/phone", json={"phone": typed}, headers=user.headers)
    assert given.status_code == 200, given.text
    assert given.json() == {"phone": {"number": masked, "verified": False}}
    code = await texted(1)
    (sms,) = sms_gateway.sent_to(number)
    assert sms.path == f"/2010-04-01/Accounts/{SMS_ACCOUNT}/Messages.json"
    assert sms.form["From"] == SMS_FROM
    basic = base64.b64encode(f"{SMS_ACCOUNT}:{SMS_TOKEN}".encode()).decode()
    assert sms.authorization == f"Basic {basic}"

    wrong = "000000" if code != "000000" else "111111"
    for attempt in range(5):
        refused = await api.post(
            "/api/user/phone/verify", json={"code": wrong}, headers=user.headers
        )
        assert refused.status_code == 422, attempt
        assert refused.json() == {"errors": {"code": ["is invalid"]}}
    used_up = await api.post("/api/user/phone/verify", json={"code": code}, headers=user.headers)
    assert used_up.status_code == 422
    assert used_up.json() == {"errors": {"code": ["has expired; request a new one"]}}
    assert (await api.get("/api/user/phone", headers=user.headers)).json() == {
        "phone": {"number": masked, "verified": False}
    }

    resent = await api.put("/api/user/phone", json={"phone": number}, headers=user.headers)
    assert resent.json() == {"phone": {"number": masked, "verified": False}}
    fresh = await texted(2)
    verified = await api.post("/api/user/phone/verify", json={"code": fresh}, headers=user.headers)
    assert verified.status_code == 200, verified.text
    assert verified.json() == {"phone": {"number": masked, "verified": True}}
    assert (await api.get("/api/user/phone", headers=user.headers)).json() == {
        "phone": {"number": masked, "verified": True}
    }

    removed = await api.delete("/api/user/phone", headers=user.headers)
    assert removed.status_code == 204
    assert (await api.get("/api/user/phone", headers=user.headers)).json() == {"phone": None}
    assert (await api.delete("/api/user/phone", headers=user.headers)).status_code == 204
    nothing = await api.post("/api/user/phone/verify", json={"code": fresh}, headers=user.headers)
    assert nothing.status_code == 404
    assert nothing.json() == {"errors": {"phone": ["not found"]}}
