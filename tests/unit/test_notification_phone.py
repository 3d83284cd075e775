"""The notifications domain's phone number: parsing to E.164, masking, and the texted code
that verifies it."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from domain.notifications.phone import (
    CODE_ATTEMPTS,
    PhoneCodeError,
    PhoneNumber,
    PhoneVerification,
)
from domain.shared.errors import DomainError
from domain.users.values import UserId

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
USER = UserId(UUID(int=7))
RIGHT = "hash-of-the-right-code"
WRONG = "hash-of-a-wrong-code"


# --- PhoneNumber -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("+14155550100", "+14155550100"),
        ("+1 (415) 555-0100", "+14155550100"),
        ("+44 20.7946.0958", "+442079460958"),
        ("  +33 6 12 34 56 78\t", "+33612345678"),
        ("+12345678", "+12345678"),  # the shortest: a country digit and 7 more
        ("+123456789012345", "+123456789012345"),  # the longest E.164 allows: 15 digits
    ],
)
def test_a_phone_number_is_parsed_to_e164(typed: str, stored: str) -> None:
    assert PhoneNumber.parse(typed) == PhoneNumber(stored)


@pytest.mark.parametrize(
    "typed",
    [
        "4155550100",  # no country code: refused rather than guessed
        "001 415 555 0100",
        "+0 415 555 0100",  # a country code never starts with 0
        "+1234567",  # too short
        "+1234567890123456",  # 16 digits
        "+1 415 CALL NOW",
        "+1 415/555/0100",
        "++14155550100",
        "+1 415 555 0100 ext 2",
    ],
)
def test_a_number_not_in_international_format_is_refused(typed: str) -> None:
    with pytest.raises(DomainError) as caught:
        PhoneNumber.parse(typed)
    assert caught.value.field == "phone"
    assert "international format" in caught.value.message


@pytest.mark.parametrize("typed", ["", "   ", "\t\n"])
def test_a_blank_number_is_refused_as_blank(typed: str) -> None:
    with pytest.raises(DomainError) as caught:
        PhoneNumber.parse(typed)
    assert (caught.value.field, caught.value.message) == ("phone", "can't be blank")


def test_a_masked_number_shows_the_prefix_and_the_last_two_digits_only() -> None:
    assert PhoneNumber("+14155550100").masked() == "+1********00"
    assert PhoneNumber("+12345678").masked() == "+1*****78"
    masked = PhoneNumber("+442079460958").masked()
    assert len(masked) == len("+442079460958")
    assert "2079" not in masked


# --- PhoneVerification -------------------------------------------------------------------


def pending(expires_in: timedelta = timedelta(minutes=10)) -> PhoneVerification:
    return PhoneVerification.start(
        USER, PhoneNumber("+14155550100"), code_hash=RIGHT, expires_at=NOW + expires_in
    )


def test_a_new_number_starts_unverified_with_every_attempt() -> None:
    verification = pending()
    assert not verification.is_verified
    assert verification.attempts_left == CODE_ATTEMPTS == 5
    assert verification.expires_in(NOW) == timedelta(minutes=10)
    assert verification.expires_in(NOW + timedelta(hours=1)) == timedelta(0)


def test_the_right_code_verifies_and_forgets_the_code() -> None:
    verification = pending()
    verification.verify(RIGHT, now=NOW + timedelta(minutes=1))
    assert verification.is_verified
    assert verification.verified_at == NOW + timedelta(minutes=1)
    assert verification.code_hash is None
    assert verification.code_expires_at is None
    assert verification.expires_in(NOW) == timedelta(0)


def test_a_wrong_code_counts_an_attempt_and_leaves_it_unverified() -> None:
    verification = pending()
    with pytest.raises(PhoneCodeError) as caught:
        verification.verify(WRONG, now=NOW)
    assert (caught.value.field, caught.value.message) == ("code", "is invalid")
    assert verification.attempts_left == CODE_ATTEMPTS - 1
    assert not verification.is_verified
    verification.verify(RIGHT, now=NOW)
    assert verification.is_verified


def test_an_expired_code_is_refused_even_when_right() -> None:
    verification = pending(expires_in=timedelta(minutes=10))
    with pytest.raises(PhoneCodeError, match="expired"):
        verification.verify(RIGHT, now=NOW + timedelta(minutes=10))
    assert not verification.is_verified
    assert verification.attempts_left == CODE_ATTEMPTS  # expiry is not a wrong attempt


def test_once_the_attempts_are_used_up_even_the_right_code_is_refused() -> None:
    verification = pending()
    for _ in range(CODE_ATTEMPTS):
        with pytest.raises(PhoneCodeError, match="invalid"):
            verification.verify(WRONG, now=NOW)
    assert verification.attempts_left == 0
    with pytest.raises(PhoneCodeError, match="request a new one"):
        verification.verify(RIGHT, now=NOW)
    assert not verification.is_verified


def test_a_new_code_replaces_the_old_one_and_resets_the_attempts() -> None:
    verification = pending()
    for _ in range(CODE_ATTEMPTS):
        with pytest.raises(PhoneCodeError):
            verification.verify(WRONG, now=NOW)
    verification.new_code(code_hash="hash-of-the-new-code", expires_at=NOW + timedelta(hours=1))
    assert verification.attempts_left == CODE_ATTEMPTS
    assert verification.code_expires_at == NOW + timedelta(hours=1)
    with pytest.raises(PhoneCodeError, match="invalid"):
        verification.verify(RIGHT, now=NOW)  # the old code is void
    verification.verify("hash-of-the-new-code", now=NOW)
    assert verification.is_verified


def test_a_verified_number_needs_no_code() -> None:
    verification = pending()
    verification.verify(RIGHT, now=NOW)
    verification.verify(WRONG, now=NOW + timedelta(days=30))  # no effect, no error
    assert verification.verified_at == NOW
    with pytest.raises(PhoneCodeError, match="already verified"):
        verification.new_code(code_hash="x", expires_at=NOW + timedelta(hours=1))
    assert verification.code_hash is None
