"""The `DeviceTrust` contract, on the memory twin and on the HMAC adapter."""

from datetime import timedelta

import pytest

from adapters.memory.device_trust import InMemoryDeviceTrust
from adapters.memory.system import ManualClock
from adapters.security.device_trust import HmacDeviceTrust
from application.users.ports import DeviceTrust

TTL = timedelta(days=365)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=["memory", "hmac"])
def devices(request: pytest.FixtureRequest, clock: ManualClock) -> DeviceTrust:
    if request.param == "memory":
        return InMemoryDeviceTrust(clock=clock, ttl=TTL)
    return HmacDeviceTrust(key="k" * 32, ttl=TTL, clock=clock)


def test_a_token_names_one_device_of_one_account(devices: DeviceTrust) -> None:
    first = devices.issue("ada@test.com")
    second = devices.issue("ada@test.com")
    assert devices.device_of(first, "ada@test.com") is not None
    assert devices.device_of(first, "ada@test.com") != devices.device_of(second, "ada@test.com")
    assert devices.device_of(first, "bob@test.com") is None


def test_a_token_expires_after_its_lifetime(devices: DeviceTrust, clock: ManualClock) -> None:
    token = devices.issue("ada@test.com")
    clock.advance(TTL - timedelta(seconds=1))
    assert devices.device_of(token, "ada@test.com") is not None
    clock.advance(timedelta(seconds=1))
    assert devices.device_of(token, "ada@test.com") is None


@pytest.mark.parametrize("junk", ["", "x", "1.2.3", "a.b.c.d", "é.é.é", "9" * 500, "\x00"])
def test_any_other_text_is_no_device(devices: DeviceTrust, junk: str) -> None:
    devices.issue("ada@test.com")
    assert devices.device_of(junk, "ada@test.com") is None


def test_an_hmac_token_is_cookie_safe_and_does_not_name_its_account(clock: ManualClock) -> None:
    devices = HmacDeviceTrust(key="k" * 32, ttl=TTL, clock=clock)
    token = devices.issue("ada@test.com")
    assert "ada" not in token
    assert all(c.isalnum() or c in "-_." for c in token)


def test_an_hmac_token_cannot_be_altered_or_made_without_the_key(clock: ManualClock) -> None:
    devices = HmacDeviceTrust(key="k" * 32, ttl=TTL, clock=clock)
    expires, nonce, signature = devices.issue("ada@test.com").split(".")
    later = str(int(expires) + 10 * 365 * 86_400)
    assert devices.device_of(f"{later}.{nonce}.{signature}", "ada@test.com") is None
    assert devices.device_of(f"{expires}.other{nonce}.{signature}", "ada@test.com") is None
    elsewhere = HmacDeviceTrust(key="j" * 32, ttl=TTL, clock=clock)
    assert elsewhere.device_of(f"{expires}.{nonce}.{signature}", "ada@test.com") is None
