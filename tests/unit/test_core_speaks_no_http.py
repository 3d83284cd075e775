"""The core names errors, not HTTP statuses: the edge alone maps one to the other.

A use case's rules say which error it raises (`ArticleNotFoundError`, not "404"), so the
core reads the same behind HTTP, the CLI or a worker, and the mapping to statuses is
stated once, in entrypoints/http/errors.py.
"""

import ast
import re
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
CORE = (SRC / "application", SRC / "domain")
_CODES = "|".join(str(status.value) for status in HTTPStatus if status.value >= 200)
STATUS = re.compile(
    rf"(?<![\w.\-/:+,])(?:{_CODES})(?![\w./]|,\d|-byte| bits| ids| characters| seconds)"
)
"""A status code standing alone: not part of an address, a size, a count or a name."""


def _text(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if "#" in line:
            yield number, line.split("#", 1)[1]


def test_no_docstring_string_or_comment_of_the_core_names_a_status() -> None:
    found = [
        f"{path.relative_to(SRC)}:{line}: {text[max(0, match.start() - 30) : match.end() + 10]!r}"
        for root in CORE
        for path in sorted(root.rglob("*.py"))
        for line, text in _text(path)
        for match in STATUS.finditer(text)
    ]
    assert found == []


def test_the_pattern_finds_a_status_in_prose() -> None:
    assert STATUS.search("An unknown slug is 404 keyed ``article``.")
    assert STATUS.search("limited (429, before the password")
    assert not STATUS.search("at most 200 characters; 256 bits; 169.254.169.254; E.164")
