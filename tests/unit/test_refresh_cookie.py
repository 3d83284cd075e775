"""The refresh cookie's header, written without `SimpleCookie`."""

from http.cookies import SimpleCookie

import pytest

from entrypoints.http.controllers.sessions import expired_refresh_cookie, refresh_cookie


def test_the_header_parses_back_with_every_attribute() -> None:
    parsed = SimpleCookie(refresh_cookie("AbC-_09", 3600)["set-cookie"])["refresh_token"]
    assert parsed.value == "AbC-_09"
    assert (parsed["max-age"], parsed["path"], parsed["samesite"]) == (
        "3600",
        "/api/auth",
        "Strict",
    )
    assert parsed["httponly"] is True
    assert parsed["secure"] is True


def test_the_expired_cookie_is_empty_and_ends_now() -> None:
    parsed = SimpleCookie(expired_refresh_cookie()["set-cookie"])["refresh_token"]
    assert (parsed.value, parsed["max-age"]) == ("", "0")


@pytest.mark.parametrize("value", ["a b", "a;b", 'a"b', "a,b", "é", "a\r\nSet-Cookie: x=1"])
def test_a_value_that_would_need_quoting_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="URL-safe"):
        refresh_cookie(value, 60)
