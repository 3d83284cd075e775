"""Message templates with Jinja2.

The templates live under `TEMPLATES`, one directory per channel:

- `email/<name>.subject.txt`, `email/<name>.txt` and `email/<name>.html`, rendered together
  by `render_email("<name>", ...)`;
- any other plain text, such as `sms/<kind>.txt` or `push/<kind>.title.txt`, rendered by
  `render_text("sms/<kind>", ...)`.

An operator may pass an `override` directory laid out the same way: a file found there wins
over the packaged one, so messages can be reworded or restyled (for instance by replacing
`email/_layout.html`) without forking. `adapters.templates.catalog` lists the values each
notification template gets.
"""

from collections.abc import Mapping
from pathlib import Path

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    select_autoescape,
)

from application.notifications.ports import RenderedEmail, TemplateRenderer

TEMPLATES = Path(__file__).resolve().parent
"""The packaged templates root."""

EMAIL_TEMPLATES = TEMPLATES / "email"
"""The packaged email templates; passing it as the root means `TEMPLATES`, for older callers."""


class JinjaTemplateRenderer(TemplateRenderer):
    """The `TemplateRenderer` port.

    HTML is autoescaped. A missing value is an error, not a blank, so a broken template
    fails loudly instead of sending half a message.
    """

    def __init__(self, root: Path = TEMPLATES, *, override: Path | None = None) -> None:
        if root.resolve() == EMAIL_TEMPLATES:
            root = TEMPLATES  # the email directory was once the root; keep such callers working
        loaders: list[BaseLoader] = [FileSystemLoader(root)]
        if override is not None:
            if not override.is_dir():
                raise ValueError(f"template override directory {override} does not exist")
            loaders.insert(0, FileSystemLoader(override))
        loader = ChoiceLoader(loaders)
        self._html = _environment(loader, escape_html=True)
        self._text = _environment(loader, escape_html=False)

    def render_email(self, template: str, context: Mapping[str, str]) -> RenderedEmail:
        """Render the three parts of `email/<template>`; the subject is kept to one line."""
        subject = self._text.get_template(f"email/{template}.subject.txt").render(context)
        return RenderedEmail(
            subject=" ".join(subject.split()),
            text=self._text.get_template(f"email/{template}.txt").render(context),
            html=self._html.get_template(f"email/{template}.html").render(context),
        )

    def render_text(self, template: str, context: Mapping[str, str]) -> str:
        """Render the plain-text `<template>.txt` (such as `sms/new_follower`), stripped."""
        return self._text.get_template(f"{template}.txt").render(context).strip()


def _environment(loader: BaseLoader, *, escape_html: bool) -> Environment:
    """Strict about missing values; block tags take their own line without leaving it blank."""
    return Environment(
        loader=loader,
        autoescape=select_autoescape(["html"]) if escape_html else False,  # noqa: S701 - plain text
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
