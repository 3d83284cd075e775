"""Where a push subscription may point: the rule, on the memory resolver, and its settings."""

import base64
import ipaddress
from uuid import UUID

import pytest

from adapters.memory.database import InMemoryDatabase
from adapters.memory.host_resolver import InMemoryHostResolver
from adapters.memory.notifications.push_subscriptions import InMemoryPushSubscriptionRepository
from adapters.memory.system import ManualClock, SequentialIdGenerator
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from application.common.errors import ApplicationError, PermissionDeniedError
from application.notifications.subscribe_to_push import (
    PushPolicy,
    SubscribeToPush,
    SubscribeToPushCommand,
)
from domain.notifications.push_endpoint import (
    METADATA_ADDRESSES,
    PushServiceAllowlist,
    is_public_address,
)
from domain.shared.errors import DomainError
from domain.users.values import UserId
from entrypoints.config import ConfigurationError, load_settings
from entrypoints.config.settings import PushSettings

BOB = UserId(UUID(int=7))
P256DH = base64.urlsafe_b64encode(b"\x04" + bytes(range(64))).decode().rstrip("=")
AUTH = base64.urlsafe_b64encode(bytes(range(16))).decode().rstrip("=")
DEFAULT_ALLOWLIST = PushServiceAllowlist.parse(PushSettings().allowed_hosts)

RECORDS = {
    "fcm.googleapis.com": ["142.250.74.42", "2a00:1450:4007:80c::200a"],
    "updates.push.services.mozilla.com": ["34.107.243.93"],
    "web.push.apple.com": ["17.188.143.20"],
    "wns2-par02p.notify.windows.com": ["20.199.120.182"],
    "metadata.push.apple.com": ["169.254.169.254"],
    "loopback.push.apple.com": ["127.0.0.1"],
    "private.push.apple.com": ["10.0.0.8"],
    "half.push.apple.com": ["17.188.143.21", "192.168.1.1"],
    "ec2v6.push.apple.com": ["fd00:ec2::254"],
    "mapped.push.apple.com": ["::ffff:127.0.0.1"],
    "nat64.push.apple.com": ["64:ff9b::a9fe:a9fe"],
    "cgnat.push.apple.com": ["100.64.0.1"],
    "alibaba.push.apple.com": ["100.100.100.200"],
    "wireserver.push.apple.com": ["168.63.129.16"],
    "multicast.push.apple.com": ["239.1.2.3"],
    "unspecified.push.apple.com": [str(ipaddress.IPv4Address(0))],
    "localhost": ["127.0.0.1", "::1"],
    "push.example.com": ["93.184.215.14"],
}


def subscribe_with(
    *, allowed: PushServiceAllowlist = DEFAULT_ALLOWLIST, allow_local: bool = False
) -> tuple[SubscribeToPush, InMemoryPushSubscriptionRepository, InMemoryHostResolver]:
    database = InMemoryDatabase()
    subscriptions = InMemoryPushSubscriptionRepository(database)
    resolver = InMemoryHostResolver(RECORDS)
    policy = PushPolicy(max_per_user=20, allowed_hosts=allowed, allow_local_endpoints=allow_local)
    use_case = SubscribeToPush(
        InMemoryUnitOfWork(database, SequentialIdGenerator()),
        subscriptions,
        ManualClock(),
        policy,
        resolver,
    )
    return use_case, subscriptions, resolver


def command(endpoint: str) -> SubscribeToPushCommand:
    return SubscribeToPushCommand(user_id=BOB, endpoint=endpoint, p256dh=P256DH, auth=AUTH)


async def refusal(
    endpoint: str, *, allowed: PushServiceAllowlist = DEFAULT_ALLOWLIST
) -> tuple[str, list[str]]:
    """The message of the 422 for `endpoint`, and the hosts looked up meanwhile."""
    subscribe, subscriptions, resolver = subscribe_with(allowed=allowed)
    with pytest.raises((ApplicationError, DomainError)) as caught:
        await subscribe(command(endpoint))
    error = caught.value
    assert isinstance(error, ApplicationError | DomainError)
    assert error.field == "endpoint"
    assert await subscriptions.for_user(BOB) == [], "a refused endpoint is not stored"
    return error.message, resolver.looked_up


# --- the rule, through the use case ------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/dQw4w9WgXcQ:APA91bF",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk",
        "https://web.push.apple.com/QGz7_yR3xOg",
        "https://wns2-par02p.notify.windows.com/w/?token=BQYAAAB",
        "https://FCM.googleapis.com/fcm/send/upper-case-host",
        "https://fcm.googleapis.com:443/fcm/send/explicit-port",
    ],
)
async def test_the_major_browsers_push_services_are_accepted(endpoint: str) -> None:
    subscribe, subscriptions, resolver = subscribe_with()
    stored = await subscribe(command(endpoint))
    assert await subscriptions.for_user(BOB) == [stored]
    assert len(resolver.looked_up) == 1, "the host is resolved once"


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "https://127.0.0.1/push",
        "https://10.0.0.1/push",
        "https://8.8.8.8/push",  # public, but still not a push service's name
        "https://[::1]/x",
        "https://[fd00:ec2::254]/latest/meta-data/",
        "https://[::ffff:169.254.169.254]/x",
        "https://[::ffff:a9fe:a9fe]/x",
        "https://2852039166/latest/meta-data/",  # 169.254.169.254 as one decimal number
        "https://0xA9FEA9FE/latest/meta-data/",  # ... in hex
        "https://0251.0376.0251.0376/x",  # ... in octal
        "https://169.254.43518/x",  # ... with the last two parts merged
        "https://127.1/x",
        "https://0x7f.1/x",
        "https://169.254.169.254./x",  # trailing dot
        "https://169.254.169.254../x",
        "https://0x/x",
        "https://fcm.googleapis.com.169.254.169.254/x",  # a name ending in a number is IPv4
    ],
)
async def test_an_ip_literal_is_refused_in_any_notation(endpoint: str) -> None:
    message, looked_up = await refusal(endpoint)
    assert message in {
        "must name the push service's host, not an IP address",
        "must name a valid host",
    }
    assert looked_up == []


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("https://fcm.googleapis.com@169.254.169.254/x", "must not carry a user name or password"),
        ("https://user:pw@fcm.googleapis.com/x", "must not carry a user name or password"),
        ("https://169.254.169.254\\@fcm.googleapis.com/x", "must not contain a backslash"),
        ("https://fcm.googleapis.com\\@169.254.169.254/x", "must not contain a backslash"),
        ("https://fcm%2egoogleapis.com/x", "must name a valid host"),
        ("https://fcm.googleapis.com%00.evil.example/x", "must name a valid host"),
        ("https://-fcm.googleapis.com/x", "must name a valid host"),
        ("https://[::1/push", "must be an https URL"),
    ],
)
async def test_tricky_urls_are_refused(endpoint: str, message: str) -> None:
    assert await refusal(endpoint) == (message, [])


@pytest.mark.parametrize(
    ("endpoint", "host"),
    [
        ("https://push.example.com/send/1", "push.example.com"),
        ("https://localhost/push", "localhost"),
        ("https://metadata.google.internal/computeMetadata/v1/", "metadata.google.internal"),
        ("https://googleapis.com/fcm/send/1", "googleapis.com"),  # exact names are exact
        ("https://evil.fcm.googleapis.com/x", "evil.fcm.googleapis.com"),
        ("https://push.apple.com/x", "push.apple.com"),  # `*.` is below the domain only
        ("https://evilpush.apple.com/x", "evilpush.apple.com"),
        ("https://fcm.googleapis.com.evil.example/x", "fcm.googleapis.com.evil.example"),
        ("https://notify.windows.com.evil.example/x", "notify.windows.com.evil.example"),
    ],
)
async def test_a_host_off_the_allowlist_is_refused_without_a_lookup(
    endpoint: str, host: str
) -> None:
    assert await refusal(endpoint) == (f"{host} is not a known push service", [])


async def test_a_host_off_the_allowlist_is_forbidden_rather_than_invalid() -> None:
    """The operator's list is no part of the request's schema: 403, not 422."""
    subscribe, _, _ = subscribe_with()
    with pytest.raises(PermissionDeniedError) as caught:
        await subscribe(command("https://push.example.com/send/1"))
    assert caught.value.field == "endpoint"


@pytest.mark.parametrize(
    "host",
    [
        "metadata.push.apple.com",
        "loopback.push.apple.com",
        "private.push.apple.com",
        "half.push.apple.com",
        "ec2v6.push.apple.com",
        "mapped.push.apple.com",
        "nat64.push.apple.com",
        "cgnat.push.apple.com",
        "alibaba.push.apple.com",
        "wireserver.push.apple.com",
        "multicast.push.apple.com",
        "unspecified.push.apple.com",
    ],
)
async def test_an_allowed_name_that_resolves_inside_is_refused(host: str) -> None:
    message, looked_up = await refusal(f"https://{host}/x")
    assert message == f"{host} resolves to a private or reserved address"
    assert looked_up == [host]


async def test_an_allowed_name_that_does_not_resolve_is_refused() -> None:
    message, looked_up = await refusal("https://gone.push.apple.com/x")
    assert message == "gone.push.apple.com does not resolve; subscribe again later"
    assert looked_up == ["gone.push.apple.com"]


async def test_a_trailing_dot_names_the_same_host() -> None:
    subscribe, _, resolver = subscribe_with()
    await subscribe(command("https://fcm.googleapis.com./fcm/send/1"))
    assert resolver.looked_up == ["fcm.googleapis.com"]
    message, _ = await refusal("https://metadata.push.apple.com./x")
    assert "private or reserved" in message


async def test_the_operator_decides_the_allowlist() -> None:
    allowed = PushServiceAllowlist.parse("push.example.com, *.Push.Example.NET")
    subscribe, _, _ = subscribe_with(allowed=allowed)
    await subscribe(command("https://push.example.com/1"))
    message, _ = await refusal("https://fcm.googleapis.com/fcm/send/1", allowed=allowed)
    assert message == "fcm.googleapis.com is not a known push service"


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:8089/push/1",
        "http://localhost:8089/push/1",
        "https://169.254.169.254/x",
        "https://[::1]:8443/x",
        "https://push.example.com/x",
        "https://gone.example.com/x",
    ],
)
async def test_the_local_testing_escape_admits_anything_without_a_lookup(endpoint: str) -> None:
    subscribe, subscriptions, resolver = subscribe_with(allow_local=True)
    stored = await subscribe(command(endpoint))
    assert await subscriptions.for_user(BOB) == [stored]
    assert resolver.looked_up == []


async def test_without_the_escape_plain_http_is_still_refused_first() -> None:
    assert await refusal("http://fcm.googleapis.com/fcm/send/1") == ("must be an https URL", [])


# --- the forbidden addresses -------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "142.250.74.42",
        "17.188.143.20",
        "2a00:1450:4007:80c::200a",
        "::ffff:142.250.74.42",
        "64:ff9b::8efa:4a2a",  # NAT64 of a public address
        "2002:8efa:4a2a::1",  # 6to4 of a public address
    ],
)
def test_public_unicast_addresses_are_public(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.0.1",
        "169.254.169.254",
        "169.254.170.2",
        "100.64.0.1",
        "100.127.255.254",
        "100.100.100.200",
        "168.63.129.16",
        "192.0.0.192",
        "192.0.2.1",
        "198.18.0.1",
        str(ipaddress.IPv4Address(0)),
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "ff02::1",
        "ff0e::1",
        "2001:db8::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b::7f00:1",
        "64:ff9b:1::a9fe:a9fe",
        "2002:a9fe:a9fe::1",
        "2002:7f00:1::1",
        "::127.0.0.1",
    ],
)
def test_inside_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


def test_every_metadata_address_is_refused() -> None:
    assert METADATA_ADDRESSES
    assert not any(is_public_address(address) for address in METADATA_ADDRESSES)


# --- the allowlist and its setting -------------------------------------------------------


def test_the_default_allowlist_is_the_major_browsers_push_services() -> None:
    assert DEFAULT_ALLOWLIST.patterns == (
        "fcm.googleapis.com",
        "updates.push.services.mozilla.com",
        "*.push.apple.com",
        "*.notify.windows.com",
    )


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("fcm.googleapis.com", True),
        ("web.push.apple.com", True),
        ("a.b.push.apple.com", True),
        ("push.apple.com", False),
        ("xpush.apple.com", False),
        ("db5p.notify.windows.com", True),
        ("notify.windows.com", False),
        ("updates.push.services.mozilla.com", True),
        ("push.services.mozilla.com", False),
        ("fcm.googleapis.com.evil.example", False),
    ],
)
def test_a_wildcard_matches_names_below_its_domain_only(host: str, allowed: bool) -> None:
    assert DEFAULT_ALLOWLIST.allows(host) is allowed


@pytest.mark.parametrize(
    "text",
    ["*", "*.com", "*.*.com", "10.0.0.1", "*.10.0.0.1", "[::1]", "https://x.example", "a..b"],
)
def test_a_malformed_allowlist_pattern_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a host name"):
        PushServiceAllowlist.parse(text)


def test_an_exact_name_may_be_a_single_label() -> None:
    assert PushServiceAllowlist.parse("localhost").allows("localhost")


def test_a_malformed_allowlist_stops_the_process_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({"PUSH_ALLOWED_HOSTS": "fcm.googleapis.com, *.com"}, env_file=None)
    assert caught.value.variable == "PUSH_ALLOWED_HOSTS"
    assert "'*.com'" in str(caught.value)


def test_the_local_testing_escape_is_refused_in_production() -> None:
    production = {
        "APP_ENV": "production",
        "APP_PUBLIC_URL": "https://portico.example.com",
        "JWT_SECRET": "s" * 32,
        "AUDIT_SIGNING_KEY": "a" * 32,
        "DATABASE_URL": "postgresql://db/app",
    }
    assert not load_settings(production, env_file=None).push.allow_local_endpoints
    with pytest.raises(ConfigurationError) as caught:
        load_settings({**production, "PUSH_ALLOW_LOCAL_ENDPOINTS": "true"}, env_file=None)
    assert caught.value.variable == "PUSH_ALLOW_LOCAL_ENDPOINTS"
    assert "production" in str(caught.value)
    test_env = load_settings(
        {"APP_ENV": "test", "PUSH_ALLOW_LOCAL_ENDPOINTS": "true"}, env_file=None
    )
    assert test_env.push.allow_local_endpoints
