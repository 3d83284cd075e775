import pytest

from domain.shared.errors import DomainError
from domain.users.values import Email, Password, Profile, Username


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [("Ada@Example.COM", "ada@example.com"), ("  bob@test.io ", "bob@test.io")],
)
def test_emails_are_trimmed_and_lower_cased(raw: str, normalized: str) -> None:
    assert Email.parse(raw).value == normalized


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "can't be blank"),
        ("   ", "can't be blank"),
        ("no-at-sign", "is invalid"),
        ("two@@signs.com", "is invalid"),
        ("a@nodot", "is invalid"),
        ("with space@x.com", "is invalid"),
        ("ctrl\x07@x.com", "is invalid"),
        ("x" * 65 + "@x.com", "is invalid"),
        ("a@" + "x" * 250 + ".com", "is too long"),
    ],
)
def test_bad_emails_are_refused_naming_the_field(raw: str, message: str) -> None:
    with pytest.raises(DomainError) as caught:
        Email.parse(raw)
    assert caught.value.field == "email"
    assert message in caught.value.message


@pytest.mark.parametrize("raw", ["ada", "Ada_Lovelace", "a.b-c_1", "9lives", "x" * 64])
def test_good_usernames(raw: str) -> None:
    assert Username(raw).value == raw


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "can't be blank"),
        ("x" * 65, "too long"),
        ("_leading", "must start"),
        ("has space", "may only contain"),
        ("\u0410da", "may only contain"),
        ("emoji😀", "may only contain"),
        ("semi;colon", "may only contain"),
        ("new\nline", "may only contain"),
        ("a'--", "may only contain"),
    ],
)
def test_bad_usernames_are_refused(raw: str, message: str) -> None:
    with pytest.raises(DomainError) as caught:
        Username(raw)
    assert caught.value.field == "username"
    assert message in caught.value.message


@pytest.mark.parametrize(
    "raw", ["bonjour1", "a" * 64, "correct horse battery staple", "ñandú!ñandú"]
)
def test_passwords_meeting_the_policy(raw: str) -> None:
    Password.parse(raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [("", "can't be blank"), ("short7c", "too short"), ("x" * 257, "too long")],
)
def test_passwords_breaking_the_policy(raw: str, message: str) -> None:
    with pytest.raises(DomainError) as caught:
        Password.parse(raw)
    assert caught.value.field == "password"
    assert message in caught.value.message


def test_a_password_never_shows_itself() -> None:
    assert "hunter22" not in repr(Password.parse("hunter22-secret"))


def test_empty_bio_and_image_are_stored_as_none() -> None:
    assert Profile.of(bio="", image="  ") == Profile(bio=None, image=None)


def test_an_image_must_be_an_http_url() -> None:
    with pytest.raises(DomainError) as caught:
        Profile.of(bio=None, image="javascript:alert(1)")
    assert caught.value.field == "image"
