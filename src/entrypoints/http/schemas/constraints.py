"""Request field types whose schema and whose check come from the same domain statement.

Two kinds of constraint meet here:
- `Meta(max_length=...)` and the like are checked by msgspec while decoding and written into
  the OpenAPI document by Litestar: one statement, both uses.
- `stated(...)` writes a rule into the document only, for a rule the domain checks itself
  with its own message (``can't be blank``, which the RealWorld suite asserts, would
  become msgspec's ``is too short`` otherwise). The schema is built from the same constant
  or predicate the domain checks with, so the two cannot drift.

Every pattern is read the same way by Python's `re.search` (msgspec, schemathesis) and by
ECMAScript (JSON Schema): no ``$`` where a final newline could slip through, since Python's
``$`` also matches before one.
"""

import itertools
import sys
from collections.abc import Callable
from typing import Any

from domain.users.values import CONTROL_CHARACTERS, character_class

END_OF_TEXT = r"(?![\s\S])"
"""The very end of the text; unlike ``$``, never before a final newline."""


def _ranges(predicate: Callable[[str], bool], last: int) -> tuple[tuple[int, int], ...]:
    found: list[tuple[int, int]] = []
    start = 0
    for matches, run in itertools.groupby(map(predicate, map(chr, range(last + 1)))):
        length = len(list(run))
        if matches:
            found.append((start, start + length - 1))
        start += length
    return tuple(found)


_WHITESPACE = character_class(_ranges(str.isspace, 0x3000))
"""What `str.strip` removes: a text of these alone is blank (all lie at or below U+3000)."""
_NOT_WHITESPACE = _WHITESPACE.replace("[", "[^", 1)
_SCANNED_LAST = 0x3FFFF
_SURROGATES = range(0xD800, 0xE000)


def _unprintable(character: str) -> bool:
    return not character.isprintable() and ord(character) not in _SURROGATES


UNPRINTABLE = character_class(
    (*_ranges(_unprintable, _SCANNED_LAST), (_SCANNED_LAST + 1, sys.maxunicode))
)
"""Refused by `str.isprintable`, unassigned code points included, as this Python's Unicode
data has them (hundreds of ranges, cheap to generate from inside a lookahead), and all of
the rarely used planes above 3. Surrogates are left out: no valid JSON text decodes to a lone
one, and regular expression engines that work on code points refuse them in a pattern."""

MULTILINE_TEXT = rf"^(?![\s\S]*{CONTROL_CHARACTERS})(?=[\s\S]*{_NOT_WHITESPACE})"
"""Not blank, and no control character but tab, newline and CR (`domain.articles.values`)."""
SINGLE_LINE_TEXT = rf"^(?![\s\S]*(?:{CONTROL_CHARACTERS}|[\n\r]))(?=[\s\S]*{_NOT_WHITESPACE})"
"""Not blank, one line, and no control character."""
NOT_BLANK = rf"^(?![\s\S]*\u0000)(?=[\s\S]*{_NOT_WHITESPACE})"
"""At least one character that is not whitespace, and no NUL (which the edge refuses)."""
NO_CONTROL_CHARACTERS = rf"^(?![\s\S]*{CONTROL_CHARACTERS})"
"""No control character but tab, newline and CR; blank is allowed."""
PRINTABLE_TEXT = rf"^(?![\s\S]*{UNPRINTABLE})(?=[\s\S]*{_NOT_WHITESPACE})"
"""Printable characters only (`str.isprintable`: no unassigned ones either), not blank."""

if sys.maxunicode < _SCANNED_LAST:  # pragma: no cover - every CPython build is wide
    raise RuntimeError("a narrow Unicode build cannot state these patterns")


def stated(**rules: Any) -> dict[str, Any]:
    """`Meta(extra_json_schema=...)` for rules the document states and the domain checks.

    The keys are Litestar `Schema` attribute names (``min_length``, ``pattern``, ``enum``).
    """
    return {"extra": rules}
