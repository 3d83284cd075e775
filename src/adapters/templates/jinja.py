"""Email templates with Jinja2: `<name>.subject.txt`, `<name>.txt` and `<name>.html`."""

from collections.abc import Mapping
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from application.ports.delivery import RenderedEmail

EMAIL_TEMPLATES = Path(__file__).resolve().parent / "email"


class JinjaTemplateRenderer:
    """The `TemplateRenderer` port.

    HTML is autoescaped. A missing value is an error, not a blank, so a broken template
    fails loudly instead of mailing half a message.
    """

    def __init__(self, directory: Path = EMAIL_TEMPLATES) -> None:
        loader = FileSystemLoader(directory)
        self._html = Environment(
            loader=loader, autoescape=select_autoescape(["html"]), undefined=StrictUndefined
        )
        self._text = Environment(loader=loader, autoescape=False, undefined=StrictUndefined)  # noqa: S701 - plain text

    def render_email(self, template: str, context: Mapping[str, str]) -> RenderedEmail:
        """Render the three parts of `template`."""
        return RenderedEmail(
            subject=self._text.get_template(f"{template}.subject.txt").render(context).strip(),
            text=self._text.get_template(f"{template}.txt").render(context),
            html=self._html.get_template(f"{template}.html").render(context),
        )
