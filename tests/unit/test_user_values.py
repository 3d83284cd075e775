import re
from email.headerregistry import Address

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.mail.mime import mime_message
from application.notifications.ports import EmailMessage
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


@pytest.mark.parametrize(
    "raw",
    [
        "a,b@x.io",
        "a(comment)@x.io",
        "a<b@x.io",
        '"quoted"@x.io',
        "a;b@x.io",
        "a:b@x.io",
        "a\\b@x.io",
        "a..b@x.io",
        ".a@x.io",
        "a.@x.io",
        "a@[127.0.0.1]",
        "s@[.\u00e2\u00aai\u00d3",
        "a@-x.io",
        "a@x-.io",
        "a@x..io",
    ],
)
def test_a_new_address_mail_headers_would_misread_is_refused(raw: str) -> None:
    Email.parse(raw)
    with pytest.raises(DomainError) as caught:
        Email.parse_deliverable(raw)
    assert (caught.value.field, caught.value.message) == ("email", "is invalid")


@pytest.mark.parametrize(
    "raw",
    [
        "ada@example.com",
        "a.b+tag@mail.example.co",
        "a!#$%&'*/=?^_`{|}~@b.c",
        "j\u00f6rg@m\u00fcller.de",
    ],
)
def test_a_deliverable_address_is_kept_as_given(raw: str) -> None:
    assert Email.parse_deliverable(raw).value == raw


_ANY_ADDRESS_SHAPE = st.from_regex(re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+\Z"))


@settings(max_examples=500, database=None, suppress_health_check=list(HealthCheck))
@given(_ANY_ADDRESS_SHAPE)
def test_every_new_address_reads_back_from_a_mail_header_as_itself(raw: str) -> None:
    """A header parses ``a,b@x.io`` as two recipients and ``a(b@x.io`` as ``a``: an account
    is only given an address the message it is sent reads back unchanged."""
    try:
        email = Email.parse_deliverable(raw)
    except DomainError:
        return
    message = EmailMessage(to=email.value, subject="s", text="t", html="<p>h</p>")
    mime = mime_message(message, sender="portico@example.com", domain="example.com")
    assert bytes(mime)
    addresses: tuple[Address, ...] = mime["To"].addresses
    assert [address.addr_spec for address in addresses] == [email.value]


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
