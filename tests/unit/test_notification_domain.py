"""The notifications domain: preferences, push subscriptions and notifications.

Phone numbers and their codes are tests/unit/test_notification_phone.py's.
"""

import base64
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from uuid import UUID

import pytest

from domain.notifications.notification import (
    SECURITY_KINDS,
    Channel,
    Notification,
    NotificationKind,
    Subject,
)
from domain.notifications.preferences import DEFAULT_CHANNELS, NotificationPreferences
from domain.notifications.push import ENDPOINT_MAX, PushSubscription
from domain.shared.errors import DomainError
from domain.users.values import UserId

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
USER = UserId(UUID(int=7))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


P256DH = b64url(b"\x04" + bytes(range(64)))
AUTH = b64url(bytes(range(16)))
ENDPOINT = "https://push.example.test/send/abc123"


# --- NotificationPreferences --------------------------------------------------------------


def test_the_defaults_per_kind() -> None:
    defaults = NotificationPreferences()
    everywhere_but_sms = {Channel.IN_APP, Channel.EMAIL, Channel.PUSH}
    for kind in (
        NotificationKind.NEW_FOLLOWER,
        NotificationKind.NEW_ARTICLE,
        NotificationKind.NEW_COMMENT,
        NotificationKind.NEW_LOGIN,
    ):
        assert defaults.channels_for(kind) == everywhere_but_sms, kind
    assert defaults.channels_for(NotificationKind.ARTICLE_FAVORITED) == {
        Channel.IN_APP,
        Channel.PUSH,
    }
    assert defaults.channels_for(NotificationKind.PASSWORD_CHANGED) == set(Channel)
    assert set(DEFAULT_CHANNELS) == set(NotificationKind)


def test_changed_flips_only_the_switches_given() -> None:
    before = NotificationPreferences()
    after = before.changed(
        {
            NotificationKind.NEW_FOLLOWER: {Channel.EMAIL: False, Channel.SMS: True},
            NotificationKind.ARTICLE_FAVORITED: {Channel.PUSH: False},
        }
    )
    assert after.channels_for(NotificationKind.NEW_FOLLOWER) == {
        Channel.IN_APP,
        Channel.PUSH,
        Channel.SMS,
    }
    assert after.channels_for(NotificationKind.ARTICLE_FAVORITED) == {Channel.IN_APP}
    for kind in set(NotificationKind) - {
        NotificationKind.NEW_FOLLOWER,
        NotificationKind.ARTICLE_FAVORITED,
    }:
        assert after.channels_for(kind) == DEFAULT_CHANNELS[kind], kind
    assert before == NotificationPreferences()  # the original is unchanged


def test_changes_build_on_earlier_choices() -> None:
    first = NotificationPreferences().changed(
        {NotificationKind.NEW_ARTICLE: {Channel.EMAIL: False}}
    )
    second = first.changed({NotificationKind.NEW_ARTICLE: {Channel.PUSH: False}})
    assert second.channels_for(NotificationKind.NEW_ARTICLE) == {Channel.IN_APP}
    everything_off = second.changed({NotificationKind.NEW_ARTICLE: {Channel.IN_APP: False}})
    assert everything_off.channels_for(NotificationKind.NEW_ARTICLE) == frozenset()


@pytest.mark.parametrize("kind", sorted(SECURITY_KINDS))
def test_the_email_of_a_security_kind_cannot_be_turned_off(kind: NotificationKind) -> None:
    with pytest.raises(DomainError) as caught:
        NotificationPreferences().changed({kind: {Channel.EMAIL: False}})
    assert caught.value.field == "preferences"
    assert kind.value in caught.value.message
    quieter = NotificationPreferences().changed(
        {kind: {Channel.IN_APP: False, Channel.PUSH: False, Channel.SMS: False}}
    )
    assert quieter.channels_for(kind) == {Channel.EMAIL}


def test_the_table_lists_every_kind_and_every_channel() -> None:
    prefs = NotificationPreferences().changed({NotificationKind.NEW_COMMENT: {Channel.SMS: True}})
    table = prefs.as_table()
    assert set(table) == set(NotificationKind)
    for kind, switches in table.items():
        assert set(switches) == set(Channel), kind
        assert {c for c, on in switches.items() if on} == prefs.channels_for(kind), kind
    assert table[NotificationKind.NEW_COMMENT][Channel.SMS] is True
    assert table[NotificationKind.ARTICLE_FAVORITED][Channel.EMAIL] is False


# --- PushSubscription --------------------------------------------------------------------


def subscribe(**overrides: str | bool) -> PushSubscription:
    values: dict[str, str | bool] = {"endpoint": ENDPOINT, "p256dh": P256DH, "auth": AUTH}
    values.update(overrides)
    return PushSubscription.create(
        USER,
        endpoint=str(values["endpoint"]),
        p256dh=str(values["p256dh"]),
        auth=str(values["auth"]),
        created_at=NOW,
        allow_http=bool(values.get("allow_http", False)),
    )


def test_a_well_formed_subscription_is_built() -> None:
    subscription = subscribe()
    assert (subscription.user_id, subscription.endpoint) == (USER, ENDPOINT)
    assert (subscription.p256dh, subscription.auth, subscription.created_at) == (P256DH, AUTH, NOW)


def test_padded_keys_are_accepted_too() -> None:
    padded_auth = base64.urlsafe_b64encode(bytes(range(16))).decode()
    assert padded_auth.endswith("=")
    assert subscribe(auth=padded_auth).auth == padded_auth


@pytest.mark.parametrize(
    "endpoint",
    [
        "",
        "   ",
        "http://push.example.test/send/abc",
        "ftp://push.example.test/send/abc",
        "https:///no-host",
        "push.example.test/send/abc",
        "https://push.example.test/" + "a" * ENDPOINT_MAX,
    ],
)
def test_an_endpoint_must_be_a_reasonable_https_url(endpoint: str) -> None:
    with pytest.raises(DomainError) as caught:
        subscribe(endpoint=endpoint)
    assert caught.value.field == "endpoint"


def test_plain_http_is_accepted_only_when_allowed() -> None:
    local = "http://localhost:8089/push/1"
    with pytest.raises(DomainError, match="https"):
        subscribe(endpoint=local)
    assert subscribe(endpoint=local, allow_http=True).endpoint == local
    with pytest.raises(DomainError):
        subscribe(endpoint="ftp://localhost/push/1", allow_http=True)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("p256dh", b64url(b"\x04" + bytes(63))),  # 64 bytes
        ("p256dh", b64url(b"\x04" + bytes(65))),  # 66 bytes
        ("p256dh", AUTH),
        ("auth", b64url(bytes(15))),
        ("auth", b64url(bytes(17))),
        ("auth", P256DH),
    ],
)
def test_keys_must_have_their_exact_lengths(field: str, value: str) -> None:
    with pytest.raises(DomainError) as caught:
        subscribe(**{field: value})
    assert caught.value.field == field
    assert "byte" in caught.value.message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("p256dh", "not base64!"),
        ("p256dh", P256DH[:-1] + "*"),
        ("p256dh", "a"),
        ("auth", "a"),
        ("auth", "%%%%"),
    ],
)
def test_keys_must_be_base64url(field: str, value: str) -> None:
    with pytest.raises(DomainError) as caught:
        subscribe(**{field: value})
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("p256dh", P256DH + "!!!!"),
        ("p256dh", P256DH[:40] + "<%%>" + "*" * 40 + P256DH[40:]),
        ("auth", AUTH + "...."),
        ("auth", AUTH[:8] + "\n\n  " + AUTH[8:]),
    ],
    ids=["p256dh-trailing-junk", "p256dh-junk-inside", "auth-trailing-dots", "auth-whitespace"],
)
def test_keys_with_characters_outside_base64url_are_refused(field: str, value: str) -> None:
    """Characters outside the alphabet must not be silently dropped while decoding.

    Otherwise a key padded with junk is accepted and stored as given, although it is not
    base64url, and can exceed the store's column (p256dh is VARCHAR(128), auth VARCHAR(64)).
    """
    with pytest.raises(DomainError) as caught:
        subscribe(**{field: value})
    assert caught.value.field == field


# --- Notification ------------------------------------------------------------------------


def notification(**overrides: object) -> Notification:
    values: dict[str, object] = {
        "id": UUID(int=1),
        "recipient_id": USER,
        "kind": NotificationKind.NEW_FOLLOWER,
        "actor_id": UserId(UUID(int=8)),
        "subject": Subject(type="user", id=str(UUID(int=8))),
        "source": "event-1",
        "channels": frozenset({Channel.IN_APP, Channel.EMAIL}),
        "created_at": NOW,
    }
    values.update(overrides)
    return Notification(**values)  # type: ignore[arg-type]


def test_a_new_notification_is_unread_with_empty_data() -> None:
    fresh = notification()
    assert not fresh.is_read
    assert fresh.read_at is None
    assert dict(fresh.data) == {}
    assert isinstance(fresh.data, MappingProxyType)


def test_mark_read_once_keeps_the_first_time() -> None:
    fresh = notification()
    assert fresh.mark_read(at=NOW + timedelta(minutes=1)) is True
    assert fresh.is_read
    assert fresh.mark_read(at=NOW + timedelta(minutes=5)) is False
    assert fresh.read_at == NOW + timedelta(minutes=1)


def test_only_notifications_with_the_in_app_channel_show_in_the_app() -> None:
    assert notification().in_app
    assert not notification(channels=frozenset({Channel.EMAIL, Channel.SMS})).in_app
    assert notification(channels=frozenset({Channel.IN_APP})).in_app


def test_a_notification_needs_a_channel() -> None:
    with pytest.raises(ValueError, match="at least one channel"):
        notification(channels=frozenset())


def test_a_notification_needs_a_timezone_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        notification(created_at=datetime(2026, 3, 1, 12, 0))  # noqa: DTZ001 - on purpose
    paris = datetime(2026, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    assert notification(created_at=paris).created_at == NOW
