"""Notification templates: every kind on every channel, rendered by the Jinja2 adapter."""

from collections.abc import Mapping
from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader, TemplateNotFound, UndefinedError, meta

from adapters.templates.catalog import (
    COMMON_KEYS,
    TEMPLATE_CONTEXT,
    context_keys,
    email_template,
    push_body_template,
    push_title_template,
    sms_template,
    template_files,
)
from adapters.templates.jinja import EMAIL_TEMPLATES, TEMPLATES, JinjaTemplateRenderer
from application.notifications.ports import RenderedEmail
from domain.notifications.notification import SECURITY_KINDS, NotificationKind

KINDS = list(NotificationKind)
ACTOR_KINDS = [kind for kind in KINDS if "actor_username" in TEMPLATE_CONTEXT[kind]]
ARTICLE_KINDS = [kind for kind in KINDS if "article_title" in TEMPLATE_CONTEXT[kind]]

TYPICAL = {
    "app_name": "Portico",
    "recipient_username": "grace_hopper",
    "preferences_url": "https://portico.example/settings/notifications",
    "actor_username": "ada_lovelace",
    "article_title": "How to train your dragon",
    "article_slug": "how-to-train-your-dragon-4f2a9c",
    "device": "Firefox on macOS",
    "ip_address": "203.0.113.7",
    "signed_in_at": "2025-05-01T12:34:56+00:00",
    "changed_at": "2025-05-01T12:34:56+00:00",
}
URLS = {
    NotificationKind.NEW_FOLLOWER: "https://portico.example/profile/ada_lovelace",
    NotificationKind.NEW_ARTICLE: "https://portico.example/article/how-to-train-your-dragon-4f2a9c",
    NotificationKind.NEW_COMMENT: "https://portico.example/article/how-to-train-your-dragon-4f2a9c",
    NotificationKind.ARTICLE_FAVORITED: (
        "https://portico.example/article/how-to-train-your-dragon-4f2a9c"
    ),
    NotificationKind.NEW_LOGIN: "https://portico.example/settings/security",
    NotificationKind.PASSWORD_CHANGED: "https://portico.example/settings/security",
}


def context_for(kind: NotificationKind, **values: str) -> dict[str, str]:
    """Exactly the documented keys of `kind`, with typical values unless given."""
    typical = {**TYPICAL, "url": URLS[kind]}
    return {key: values.get(key, typical[key]) for key in context_keys(kind)}


@pytest.fixture(scope="module")
def renderer() -> JinjaTemplateRenderer:
    return JinjaTemplateRenderer()


# --- completeness -------------------------------------------------------------------------


def test_the_catalog_documents_every_kind_and_nothing_else() -> None:
    assert set(TEMPLATE_CONTEXT) == {kind.value for kind in NotificationKind}
    for keys in TEMPLATE_CONTEXT.values():
        assert not set(keys) & set(COMMON_KEYS)
        assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_all_its_template_files(kind: NotificationKind) -> None:
    files = template_files(kind)
    assert len(files) == 6
    missing = [name for name in files if not (TEMPLATES / name).is_file()]
    assert not missing, f"{kind} has no template {missing}"


def _variables(env: Environment, name: str) -> set[str]:
    """The names a template uses, with those of the templates it extends or includes."""
    source = env.loader.get_source(env, name)[0]  # type: ignore[union-attr]
    ast = env.parse(source)
    used = set(meta.find_undeclared_variables(ast))
    for parent in meta.find_referenced_templates(ast):
        assert parent is not None, f"{name} names a template dynamically"
        used |= _variables(env, parent)
    return used


@pytest.fixture(scope="module")
def source_env() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)


@pytest.mark.parametrize("kind", KINDS)
def test_templates_use_only_the_documented_keys(
    kind: NotificationKind, source_env: Environment
) -> None:
    allowed = set(context_keys(kind))
    for name in template_files(kind):
        assert _variables(source_env, name) <= allowed, name
    email = set().union(*(_variables(source_env, name) for name in template_files(kind)[:3]))
    assert set(COMMON_KEYS) <= email, "every email greets, links to url and to preferences"


def test_the_layouts_use_only_the_common_keys(source_env: Environment) -> None:
    for name in ("email/_layout.html", "email/_layout.txt"):
        assert _variables(source_env, name) <= set(COMMON_KEYS)


# --- rendering with the documented context -----------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_the_email_renders_with_the_documented_context(
    kind: NotificationKind, renderer: JinjaTemplateRenderer
) -> None:
    context = context_for(kind)
    email = renderer.render_email(email_template(kind), context)

    assert email.subject
    assert "\n" not in email.subject
    assert email.subject == email.subject.strip()
    for body in (email.text, email.html):
        assert context["url"] in body
        assert context["preferences_url"] in body
        assert f"Hello {context['recipient_username']}" in body
        assert "notification preferences" in body
        for key in ("actor_username", "article_title", "device", "ip_address"):
            if key in context:
                assert context[key] in body, key
    assert f'href="{context["url"]}"' in email.html
    assert f'href="{context["preferences_url"]}"' in email.html
    assert email.html.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in email.html
    assert "{{" not in email.text + email.html
    assert "{%" not in email.text + email.html


@pytest.mark.parametrize("kind", sorted(SECURITY_KINDS))
def test_security_emails_say_what_to_do_if_it_was_not_them(
    kind: NotificationKind, renderer: JinjaTemplateRenderer
) -> None:
    email = renderer.render_email(email_template(kind), context_for(kind))
    for body in (email.text, email.html):
        flat = " ".join(body.lower().split())
        assert "not you" in flat or "did not" in flat
        assert "reset your password" in flat
        assert "always sent by email" in flat


def test_the_new_login_email_shows_when_it_happened(renderer: JinjaTemplateRenderer) -> None:
    kind = NotificationKind.NEW_LOGIN
    email = renderer.render_email(email_template(kind), context_for(kind))
    assert TYPICAL["signed_in_at"] in email.text
    assert TYPICAL["signed_in_at"] in email.html


@pytest.mark.parametrize("kind", KINDS)
def test_the_sms_is_short_and_plain(
    kind: NotificationKind, renderer: JinjaTemplateRenderer
) -> None:
    context = context_for(kind)
    sms = renderer.render_text(sms_template(kind), context)
    assert len(sms) < 160, sms
    assert sms.isascii(), "stays in the GSM-7 alphabet, so it costs one segment"
    assert "\n" not in sms
    assert sms == sms.strip()
    assert context["url"] in sms
    assert sms.startswith(f"{context['app_name']}: ")


@pytest.mark.parametrize("kind", KINDS)
def test_the_sms_stays_short_with_long_titles_and_devices(
    kind: NotificationKind, renderer: JinjaTemplateRenderer
) -> None:
    long_values = {
        "article_title": "A very long article title " * 7,
        "device": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    }
    sms = renderer.render_text(sms_template(kind), context_for(kind, **long_values))
    assert len(sms) < 160, sms


@pytest.mark.parametrize("kind", KINDS)
def test_the_push_title_and_body_render(
    kind: NotificationKind, renderer: JinjaTemplateRenderer
) -> None:
    context = context_for(kind)
    title = renderer.render_text(push_title_template(kind), context)
    body = renderer.render_text(push_body_template(kind), context)
    assert title
    assert body
    assert len(title) <= 65
    for text in (title, body):
        assert "\n" not in text
        assert text == text.strip()
    if "actor_username" in context:
        assert context["actor_username"] in title + body


# --- strictness ---------------------------------------------------------------------------


def _renders(kind: NotificationKind) -> dict[str, tuple[str, ...]]:
    """How each channel is rendered -> the files that rendering reads."""
    files = template_files(kind)
    return {"email": files[:3], "sms": files[3:4], "push_title": files[4:5], "push_body": files[5:]}


def _render(
    renderer: JinjaTemplateRenderer,
    kind: NotificationKind,
    channel: str,
    context: Mapping[str, str],
) -> RenderedEmail | str:
    match channel:
        case "email":
            return renderer.render_email(email_template(kind), context)
        case "sms":
            return renderer.render_text(sms_template(kind), context)
        case "push_title":
            return renderer.render_text(push_title_template(kind), context)
        case _:
            return renderer.render_text(push_body_template(kind), context)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("channel", ["email", "sms", "push_title", "push_body"])
def test_a_missing_value_fails_loudly(
    kind: NotificationKind, channel: str, renderer: JinjaTemplateRenderer, source_env: Environment
) -> None:
    files = _renders(kind)[channel]
    used = set().union(*(_variables(source_env, name) for name in files))
    for key in sorted(used):
        context = context_for(kind)
        del context[key]
        with pytest.raises(UndefinedError):
            _render(renderer, kind, channel, context)


def test_an_unknown_name_fails_loudly_even_in_plain_text(renderer: JinjaTemplateRenderer) -> None:
    with pytest.raises(UndefinedError):
        renderer.render_text("sms/new_follower", {})
    with pytest.raises(UndefinedError):
        renderer.render_email("notification_new_follower", {"app_name": "Portico"})


def test_an_unknown_template_is_an_error(renderer: JinjaTemplateRenderer) -> None:
    with pytest.raises(TemplateNotFound):
        renderer.render_text("sms/no_such_kind", context_for(NotificationKind.NEW_FOLLOWER))


# --- escaping -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ACTOR_KINDS)
def test_html_escapes_a_malicious_actor(
    kind: NotificationKind, renderer: JinjaTemplateRenderer
) -> None:
    evil = "<script>alert(1)</script>"
    email = renderer.render_email(email_template(kind), context_for(kind, actor_username=evil))
    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert evil in email.text
    assert evil in email.subject


@pytest.mark.parametrize("kind", ARTICLE_KINDS)
def test_html_escapes_a_malicious_title(
    kind: NotificationKind, renderer: JinjaTemplateRenderer
) -> None:
    evil = '"><img src=x onerror=alert(1)>'
    email = renderer.render_email(email_template(kind), context_for(kind, article_title=evil))
    assert "<img" not in email.html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in email.html
    assert evil in email.text


def test_html_escapes_values_in_attributes(renderer: JinjaTemplateRenderer) -> None:
    kind = NotificationKind.NEW_LOGIN
    context = context_for(
        kind, url="https://x.test/?a=1&b=2", preferences_url='https://x.test/" onclick="x'
    )
    html = renderer.render_email(email_template(kind), context).html
    assert 'href="https://x.test/?a=1&amp;b=2"' in html
    assert 'href="https://x.test/&#34; onclick=&#34;x"' in html
    assert 'onclick="x' not in html


def test_the_subject_is_one_line(renderer: JinjaTemplateRenderer) -> None:
    kind = NotificationKind.NEW_COMMENT
    context = context_for(kind, article_title="Line one\r\nBcc: evil@example.com")
    subject = renderer.render_email(email_template(kind), context).subject
    assert subject == 'ada_lovelace commented on "Line one Bcc: evil@example.com"'


# --- operator overrides -------------------------------------------------------------------


def test_an_override_directory_wins_over_the_packaged_templates(tmp_path: Path) -> None:
    (tmp_path / "sms").mkdir()
    (tmp_path / "sms" / "new_follower.txt").write_text("{{ actor_username }} follows you!\n")
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "verify_email.subject.txt").write_text("Welcome, {{ username }}")
    renderer = JinjaTemplateRenderer(override=tmp_path)
    kind = NotificationKind.NEW_FOLLOWER

    assert (
        renderer.render_text(sms_template(kind), context_for(kind)) == "ada_lovelace follows you!"
    )
    # What the override does not have still comes from the package.
    assert renderer.render_text(push_title_template(kind), context_for(kind)) == "New follower"
    email = renderer.render_email(
        "verify_email",
        {"username": "ada", "link": "https://x.test", "token": "t", "valid_hours": "1"},
    )
    assert email.subject == "Welcome, ada"
    assert "Please confirm that this is your email address" in email.text


def test_overriding_the_layout_restyles_every_notification_email(tmp_path: Path) -> None:
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "_layout.html").write_text(
        '<main class="house-style"><h1>{% block title %}{% endblock %}</h1>'
        "{% block content %}{% endblock %}"
        '<a href="{{ url }}">{% block action %}{% endblock %}</a>'
        "<footer>{% block preferences %}{% endblock %}</footer></main>"
    )
    renderer = JinjaTemplateRenderer(override=tmp_path)
    for kind in KINDS:
        email = renderer.render_email(email_template(kind), context_for(kind))
        assert email.html.startswith('<main class="house-style">'), kind
        assert "Hello grace_hopper" in email.text  # the text layout is still the packaged one


def test_a_missing_override_directory_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        JinjaTemplateRenderer(override=tmp_path / "nowhere")


# --- the identity emails ------------------------------------------------------------------


@pytest.mark.parametrize(
    "renderer",
    [
        JinjaTemplateRenderer(),
        JinjaTemplateRenderer(TEMPLATES),
        JinjaTemplateRenderer(EMAIL_TEMPLATES),
    ],
    ids=["default", "root", "email-directory"],
)
@pytest.mark.parametrize(
    ("template", "subject"),
    [("verify_email", "Confirm your email address"), ("reset_password", "Reset your password")],
)
def test_the_identity_emails_still_render(
    renderer: JinjaTemplateRenderer, template: str, subject: str
) -> None:
    context = {
        "username": "ada",
        "link": "https://x.test/?t=1",
        "token": "tok",
        "valid_hours": "48",
    }
    email = renderer.render_email(template, context)
    assert email.subject == subject
    assert "Hello ada," in email.text
    assert "https://x.test/?t=1" in email.text
    assert "tok" in email.text
    assert '<a href="https://x.test/?t=1">' in email.html
    assert "expires in 48 hours" in email.text


def test_the_email_directory_constant_is_where_the_email_templates_are() -> None:
    assert EMAIL_TEMPLATES == TEMPLATES / "email"
    assert (EMAIL_TEMPLATES / "verify_email.subject.txt").is_file()
    # Given the email directory, the renderer still reaches the other channels.
    kind = NotificationKind.NEW_FOLLOWER
    text = JinjaTemplateRenderer(EMAIL_TEMPLATES).render_text(sms_template(kind), context_for(kind))
    assert "ada_lovelace" in text
