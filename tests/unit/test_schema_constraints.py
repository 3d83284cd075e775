"""Every rule the API checks is in its OpenAPI document, with the bound the check uses.

The document is built by the app itself and compared with the constants the domain and the
application check with; the boundary values the document allows are then sent to the app,
which must take them.
"""

import json
import re
import sys
import unicodedata
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from application.articles.pagination import MAX_LIMIT, MAX_OFFSET
from domain.articles.values import (
    BODY_MAX,
    COMMENT_MAX,
    DESCRIPTION_MAX,
    TAG_MAX,
    TAGS_PER_ARTICLE_MAX,
    TITLE_MAX,
    Body,
    Tag,
    Title,
)
from domain.notifications.notification import SECURITY_KINDS, Channel, NotificationKind
from domain.notifications.phone import E164_PATTERN, PhoneNumber
from domain.shared.errors import DomainError
from domain.users.values import (
    BIO_MAX,
    CONTROL_CHARACTER_RANGES,
    EMAIL_MAX,
    PASSWORD_MAX,
    PASSWORD_MIN,
    USERNAME_MAX,
    USERNAME_PATTERN,
    Email,
    Profile,
    Role,
    has_control_characters,
)
from entrypoints.bootstrap import with_signing_secret
from entrypoints.config import load_settings
from entrypoints.http.app import create_app
from entrypoints.http.schemas import articles, notifications, users
from entrypoints.http.schemas.closed_structs import WITHOUT_NUL
from entrypoints.http.schemas.constraints import (
    MULTILINE_TEXT,
    NO_CONTROL_CHARACTERS,
    PRINTABLE_TEXT,
    SINGLE_LINE_TEXT,
    UNPRINTABLE,
)
from entrypoints.http.schemas.users import EMAIL_PATTERN
from entrypoints.ioc import make_container
from entrypoints.ioc.memory import InMemoryPersistenceProvider

UNREACHABLE = "postgresql://nobody@127.0.0.1:1/none"
QUIET = {"OUTBOX_RELAY_IN_API": "false"}


def build_app(tmp_path: Path) -> Litestar:
    settings = with_signing_secret(
        load_settings(
            {"DATABASE_URL": UNREACHABLE, "DATA_DIR": str(tmp_path), **QUIET}, env_file=None
        )
    )
    return create_app(make_container(settings, InMemoryPersistenceProvider()), settings)


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    app = build_app(tmp_path_factory.mktemp("schema"))
    encoded = msgspec.json.encode(app.openapi_schema.to_schema())
    return msgspec.json.decode(encoded, type=dict[str, Any])


def component(document: dict[str, Any], name: str) -> dict[str, Any]:
    matches = [
        schema for key, schema in document["components"]["schemas"].items() if key.endswith(name)
    ]
    assert len(matches) == 1, (name, list(document["components"]["schemas"]))
    return dict(matches[0])


def field(document: dict[str, Any], struct: str, name: str) -> dict[str, Any]:
    return dict(component(document, struct)["properties"][name])


def parameter(document: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    found = [p for p in document["paths"][path][method]["parameters"] if p["name"] == name]
    assert len(found) == 1, (path, method, name)
    return dict(found[0]["schema"])


PAGED = [
    ("/api/articles", "get"),
    ("/api/articles/feed", "get"),
    ("/api/articles/{slug}/comments", "get"),
    ("/api/notifications", "get"),
]


@pytest.mark.parametrize(("path", "method"), PAGED)
def test_every_page_states_the_bounds_pagination_checks(
    document: dict[str, Any], path: str, method: str
) -> None:
    limit = parameter(document, path, method, "limit")
    offset = parameter(document, path, method, "offset")
    assert (limit["minimum"], limit["maximum"]) == (0, MAX_LIMIT)
    assert (offset["minimum"], offset["maximum"]) == (0, MAX_OFFSET)


def test_user_fields_state_the_domain_rules(document: dict[str, Any]) -> None:
    for struct in ("NewUser", "UpdateUser"):
        username = field(document, struct, "username")
        assert (username["maxLength"], username["pattern"]) == (
            USERNAME_MAX,
            USERNAME_PATTERN.pattern,
        )
        password = field(document, struct, "password")
        assert (password["minLength"], password["maxLength"]) == (PASSWORD_MIN, PASSWORD_MAX)
        assert field(document, struct, "email")["maxLength"] == EMAIL_MAX
    bio = field(document, "UpdateUser", "bio")
    assert (bio["maxLength"], bio["pattern"]) == (BIO_MAX, NO_CONTROL_CHARACTERS)
    assert field(document, "LoginUser", "password")["minLength"] == 1


def test_content_fields_state_the_domain_rules(document: dict[str, Any]) -> None:
    expected = {
        "title": (TITLE_MAX, SINGLE_LINE_TEXT),
        "description": (DESCRIPTION_MAX, MULTILINE_TEXT),
        "body": (BODY_MAX, MULTILINE_TEXT),
    }
    for struct in ("NewArticle", "UpdateArticle"):
        for name, (maximum, pattern) in expected.items():
            stated = field(document, struct, name)
            bounds = (stated["minLength"], stated["maxLength"], stated["pattern"])
            assert bounds == (1, maximum, pattern), (struct, name)
        tags = field(document, struct, "tagList")
        assert tags["maxItems"] == TAGS_PER_ARTICLE_MAX
    tag = field(document, "NewArticle", "tagList")["items"]
    assert (tag["minLength"], tag["maxLength"], tag["pattern"]) == (1, TAG_MAX, PRINTABLE_TEXT)
    comment = field(document, "NewComment", "body")
    assert (comment["maxLength"], comment["pattern"]) == (COMMENT_MAX, MULTILINE_TEXT)


def test_closed_sets_are_enums(document: dict[str, Any]) -> None:
    assert component(document, "Role")["enum"] == [role.value for role in Role]
    preferences = field(document, "PreferencesBody", "preferences")
    assert preferences["additionalProperties"] is False
    assert list(preferences["properties"]) == [kind.value for kind in NotificationKind]
    for kind in NotificationKind:
        switches = preferences["properties"][kind.value]
        assert switches["additionalProperties"] is False
        assert list(switches["properties"]) == [channel.value for channel in Channel]
        email_may_be_off = "enum" not in switches["properties"][Channel.EMAIL.value]
        assert email_may_be_off == (kind not in SECURITY_KINDS)


def test_phone_and_push_state_their_formats(document: dict[str, Any]) -> None:
    assert field(document, "PhoneBody", "phone")["pattern"] == E164_PATTERN.pattern
    endpoint = field(document, "PushSubscriptionBody", "endpoint")
    assert endpoint["maxLength"] == 2048
    assert endpoint["pattern"].startswith("^https://")


def test_a_body_that_refuses_unknown_fields_says_so(document: dict[str, Any]) -> None:
    closed = [
        users.NewUserRequest,
        users.NewUser,
        users.UpdateUser,
        users.LoginUser,
        articles.NewArticle,
        articles.UpdateArticleRequest,
        articles.NewComment,
        notifications.PreferencesBody,
        notifications.PushKeys,
        notifications.PhoneBody,
    ]
    for struct in closed:
        assert struct.__struct_config__.forbid_unknown_fields
        assert component(document, struct.__name__)["additionalProperties"] is False, struct
    assert field(document, "RefreshRequest", "refreshToken")["pattern"] == WITHOUT_NUL
    assert re.search(WITHOUT_NUL, "token")
    assert not re.search(WITHOUT_NUL, "to\x00ken")


def test_the_control_characters_are_this_pythons_cc_and_cf() -> None:
    listed = {code for low, high in CONTROL_CHARACTER_RANGES for code in range(low, high + 1)}
    wanted = {
        code
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)) in {"Cc", "Cf"} and chr(code) not in "\t\n\r"
    }
    assert wanted <= listed, "a new Unicode version has format characters the list lacks"
    assert all(unicodedata.category(chr(code)) == "Cn" for code in listed - wanted)
    assert not has_control_characters("tab\tnew\nline\r")


def test_the_unprintable_class_is_what_isprintable_refuses() -> None:
    unprintable = re.compile(UNPRINTABLE)
    differing = [
        code
        for code in range(0x40000)
        if bool(unprintable.match(chr(code))) != (not chr(code).isprintable())
    ]
    assert all(unicodedata.category(chr(code)) == "Cs" for code in differing), [
        hex(code) for code in differing
    ]
    unassigned = next(
        chr(code) for code in range(0x10000, 0x40000) if unicodedata.category(chr(code)) == "Cn"
    )
    assert unprintable.match(unassigned)
    assert not re.search(PRINTABLE_TEXT, f"tag{unassigned}")
    assert unprintable.match("\U00050000")


SAMPLES = [
    "",
    " ",
    "\t\n",
    "\u3000",
    "\u00a0x",
    "a",
    "a\n",
    "a\nb",
    "a\rb",
    "a\x00",
    "\x1c",
    "x\u202eevil",
    "x\ufeff",
    "x\u2028y",
    "caf\u00e9",
    "e\u0301",
    "\U0001f600",
    "\U000e0041",
    "\U00013439",
    "\ue000",
    "\U00030000",
    "\U00050000",
    "\u00cd\U000107e6T\u00b3",
    "tag  ",
    "\x85",
]


def accepted(check: Any, text: str) -> bool:
    try:
        check(text)
    except DomainError:
        return False
    return True


@pytest.mark.parametrize("text", SAMPLES)
def test_text_the_document_allows_the_domain_accepts(text: str) -> None:
    pairs = [
        (SINGLE_LINE_TEXT, Title),
        (MULTILINE_TEXT, Body),
        (PRINTABLE_TEXT, Tag.parse),
        (NO_CONTROL_CHARACTERS, lambda bio: Profile.of(bio=bio, image=None)),
        (EMAIL_PATTERN, Email.parse_deliverable),
        (E164_PATTERN.pattern, PhoneNumber.parse),
    ]
    for pattern, check in pairs:
        if re.search(pattern, text):
            assert accepted(check, text), (pattern[:40], text)


@pytest.mark.parametrize(
    "email", ["a@b.co", "A.B+c@Example.COM", f"{'l' * 64}@d.io", "x@y.z", "a!#$%&'*/=?^_`{|}~@b.c"]
)
def test_an_email_the_pattern_allows_is_a_valid_address(email: str) -> None:
    assert re.search(EMAIL_PATTERN, email)
    assert accepted(Email.parse_deliverable, email)


def test_the_patterns_refuse_what_the_domain_refuses() -> None:
    assert not re.search(SINGLE_LINE_TEXT, "two\nlines")
    assert not re.search(MULTILINE_TEXT, "   \n\t")
    assert not re.search(MULTILINE_TEXT, "nul\x00")
    assert not re.search(PRINTABLE_TEXT, "tag\n")
    assert not re.search(EMAIL_PATTERN, "a@b.c\n")
    assert not re.search(EMAIL_PATTERN, f"{'l' * 65}@d.io")


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=build_app(tmp_path)) as test_client:
        yield test_client


async def register(client: AsyncTestClient[Litestar], username: str, password: str) -> Any:
    body = {
        "user": {"username": username, "email": f"{uuid.uuid4().hex}@t.io", "password": password}
    }
    return await client.post("/api/users", json=body)


async def test_boundary_values_the_document_allows_are_accepted(
    client: AsyncTestClient[Litestar],
) -> None:
    longest_name = "u" + uuid.uuid4().hex + "n" * (USERNAME_MAX - 33)
    assert len(longest_name) == USERNAME_MAX
    registered = await register(client, longest_name, "p" * PASSWORD_MIN)
    assert registered.status_code == 201, registered.text
    headers = {"Authorization": f"Token {registered.json()['user']['token']}"}
    assert (await register(client, uuid.uuid4().hex, "p" * PASSWORD_MAX)).status_code == 201

    article = {
        "title": "t" * TITLE_MAX,
        "description": "d" * DESCRIPTION_MAX,
        "body": "b" * BODY_MAX,
        "tagList": [f"{index:02d}" + "x" * (TAG_MAX - 2) for index in range(TAGS_PER_ARTICLE_MAX)],
    }
    published = await client.post("/api/articles", json={"article": article}, headers=headers)
    assert published.status_code == 201, published.text
    slug = published.json()["article"]["slug"]
    comment = {"comment": {"body": "c" * COMMENT_MAX}}
    commented = await client.post(f"/api/articles/{slug}/comments", json=comment, headers=headers)
    assert commented.status_code == 201, commented.text
    bio = {"user": {"bio": "b" * BIO_MAX, "image": "https://img.example/" + "i" * 100}}
    assert (await client.put("/api/user", json=bio, headers=headers)).status_code == 200

    for path in ("/api/articles", "/api/articles/feed", f"/api/articles/{slug}/comments"):
        for query in (f"limit={MAX_LIMIT}&offset={MAX_OFFSET}", "limit=0&offset=0"):
            page = await client.get(f"{path}?{query}", headers=headers)
            assert page.status_code == 200, (path, query, page.text)
        for query, key in (
            (f"limit={MAX_LIMIT + 1}", "limit"),
            (f"offset={MAX_OFFSET + 1}", "offset"),
        ):
            refused = await client.get(f"{path}?{query}", headers=headers)
            assert refused.status_code == 422, (path, query)
            assert list(refused.json()["errors"]) == [key]
    listed = await client.get(
        f"/api/notifications?limit={MAX_LIMIT}&offset={MAX_OFFSET}", headers=headers
    )
    assert listed.status_code == 200, listed.text

    every_switch = {
        kind.value: {channel.value: True for channel in Channel} for kind in NotificationKind
    }
    preferences = await client.put(
        "/api/notifications/preferences", json={"preferences": every_switch}, headers=headers
    )
    assert preferences.status_code == 200, preferences.text


def test_the_largest_article_fits_the_request_body_limit_however_it_is_escaped() -> None:
    """A schema-valid article must never get 413, nor one character too many: every field at
    its maximum (and one past), each character an astral one that JSON escapes as a
    surrogate pair of twelve bytes, stays under the default MAX_REQUEST_BODY_BYTES."""
    widest = "\U0001f600"
    article = {
        "title": widest * TITLE_MAX,
        "description": widest * DESCRIPTION_MAX,
        "body": widest * (BODY_MAX + 1),
        "tagList": [widest * TAG_MAX] * TAGS_PER_ARTICLE_MAX,
    }
    encoded = json.dumps({"article": article}, ensure_ascii=True).encode()
    limit = load_settings({}, env_file=None).app.max_request_body_bytes
    assert len(encoded) < limit, (len(encoded), limit)
