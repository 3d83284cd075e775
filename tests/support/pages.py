"""Reading the pages behind emailed links: their forms' fields, and the links mails carry."""

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

_LINK = re.compile(r"https?://\S+")


class _Fields(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "input":
            named = dict(attrs)
            if named.get("type") == "hidden" and named.get("name"):
                self.fields[str(named["name"])] = named.get("value") or ""


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden inputs of a page's form, by name."""
    parser = _Fields()
    parser.feed(html)
    return parser.fields


def link_in(text: str, path: str) -> str:
    """The first link in a mail's text whose path is `path`."""
    for link in _LINK.findall(text):
        if urlsplit(str(link)).path == path:
            return str(link)
    raise AssertionError(f"no link to {path} in:\n{text}")


def path_and_query(link: str) -> str:
    """The part of a link a client requests from the server it names."""
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path
