"""The device cookie's header, written without `SimpleCookie`."""

from http.cookies import SimpleCookie

import pytest

from entrypoints.http.device_cookie import DEVICE_COOKIE, device_cookie


def test_the_header_parses_back_with_every_attribute() -> None:
    name, value = device_cookie("1767225600.AbC-_09.sig", 3600).to_encoded_header()
    assert name == b"set-cookie"
    parsed = SimpleCookie(value.decode())[DEVICE_COOKIE]
    assert parsed.value == "1767225600.AbC-_09.sig"
    assert (parsed["max-age"], parsed["path"], parsed["samesite"]) == (
        "3600",
        "/api/users/login",
        "Strict",
    )
    assert parsed["httponly"] is True
    assert parsed["secure"] is True


@pytest.mark.parametrize("value", ["", "a b", "a;b", 'a"b', "a,b", "é", "a\r\nSet-Cookie: x=1"])
def test_a_value_that_would_need_quoting_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="URL-safe"):
        device_cookie(value, 60)
