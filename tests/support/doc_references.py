"""What the prose names: routes, settings, commands, events and files, read out of Markdown.

Each reader takes a document's text and returns `Reference`s with their line numbers;
`tests/unit/test_docs_truth.py` checks each against the code. The patterns are narrow on
purpose: a name counts only in a code span or a code block, in a shape nothing else has.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DOCUMENTS = ("README.md", "CONTRIBUTING.md", "deploy/README.md", "bench/README.md")
"""The checked documents beside every `docs/**/*.md`."""


@dataclass(frozen=True, slots=True)
class Reference:
    """One name a document uses, where it stands."""

    line: int
    text: str

    def at(self, document: str) -> str:
        """`document:line: text`, for a failure message."""
        return f"{document}:{self.line}: {self.text}"


@dataclass(frozen=True, slots=True)
class Markdown:
    """A document split into its code spans and the lines of its code blocks."""

    spans: list[Reference]
    code_lines: list[Reference]
    prose_lines: list[Reference]
    fences: list[tuple[str, Reference]]
    """Each fenced block: its info string, and its body starting at its first line."""


def documents(root: Path) -> list[Path]:
    """Every Markdown file the docs-truth test reads."""
    found = [root / name for name in DOCUMENTS if (root / name).is_file()]
    return found + sorted((root / "docs").rglob("*.md"))


_FENCE = re.compile(r"^\s*(```+|~~~+)\s*(.*)$")
_SPAN = re.compile(r"(?<!`)`([^`]+)`(?!`)")


def parse(text: str) -> Markdown:
    """Split `text` into code spans (which may cross a line), code-block lines and prose lines."""
    spans: list[Reference] = []
    code: list[Reference] = []
    prose: list[Reference] = []
    fences: list[tuple[str, Reference]] = []
    paragraph: list[tuple[int, str]] = []
    fence: str | None = None
    info = ""
    body: list[str] = []
    body_start = 0

    def flush() -> None:
        if not paragraph:
            return
        joined = "\n".join(line for _, line in paragraph)
        for match in _SPAN.finditer(joined):
            line = paragraph[0][0] + joined.count("\n", 0, match.start())
            spans.append(Reference(line, match[1].replace("\n", " ").strip()))
        paragraph.clear()

    for number, line in enumerate(text.splitlines(), start=1):
        opened = _FENCE.match(line)
        if fence is None and opened:
            flush()
            fence, info, body, body_start = opened[1], opened[2].strip(), [], number + 1
        elif fence is not None and line.strip().startswith(fence) and not line.strip("`~ "):
            fences.append((info, Reference(body_start, "\n".join(body))))
            fence = None
        elif fence is not None:
            body.append(line)
            code.append(Reference(number, line))
        elif line.strip():
            paragraph.append((number, line))
            prose.append(Reference(number, line))
        else:
            flush()
    flush()
    return Markdown(spans=spans, code_lines=code, prose_lines=prose, fences=fences)


# Routes --------------------------------------------------------------------------------------

_METHODS = "GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|WS"
_PATH = r"/[A-Za-z0-9_\-.{}/<>%*]*"
_ROUTE = re.compile(
    rf"((?:`?(?:{_METHODS})`?\s*/\s*)*`?(?:{_METHODS}))`?\s+({_PATH})(?:\?[^\s`|]*)?"
)
_API_PATH = re.compile(r"(?<![\w./<>{}\-])(/api/[A-Za-z0-9_\-.{}/<>%*]*)")
_ORIGIN_VARIABLE = re.compile(r"\$\{?[A-Z_]+\}?(?=/)")
"""A shell variable holding the origin, as in `curl $API/api/tags`."""
_LOCAL_URL = re.compile(r"\b(?:https?|wss?)://(?:127\.0\.0\.1|localhost)(?::\d+)?(/[^\s`'\"?)]*)")


@dataclass(frozen=True, slots=True)
class RouteReference:
    """A path, with the methods the text gives it (none: any)."""

    line: int
    methods: frozenset[str]
    path: str

    def at(self, document: str) -> str:
        """`document:line: METHOD path`."""
        methods = "/".join(sorted(self.methods)) or "any"
        return f"{document}:{self.line}: {methods} {self.path}"


def _clean_path(path: str) -> str:
    return path.rstrip(".,;:").rstrip("/") or "/"


def routes(markdown: Markdown) -> list[RouteReference]:
    """`GET /api/x`, `` `POST`/`DELETE /api/x` ``, bare `/api/...` paths and local URLs."""
    found: list[RouteReference] = []
    for ref in [*markdown.prose_lines, *markdown.code_lines]:
        taken: list[tuple[int, int]] = []
        text = _ORIGIN_VARIABLE.sub(" ", ref.text)
        for match in _ROUTE.finditer(text):
            methods = frozenset(re.findall(_METHODS, match[1]))
            found.append(RouteReference(ref.line, methods, _clean_path(match[2])))
            taken.append(match.span(2))
        for pattern in (_API_PATH, _LOCAL_URL):
            for match in pattern.finditer(text):
                if any(start <= match.start(1) < end for start, end in taken):
                    continue
                taken.append(match.span(1))
                found.append(RouteReference(ref.line, frozenset(), _clean_path(match[1])))
    return [route for route in found if "..." not in route.path]


def route_pattern(documented: str) -> re.Pattern[str]:
    """A route's path as a pattern: a `{parameter}` matches any one segment."""
    parts = re.split(r"\{[^}]*\}", documented)
    return re.compile("^" + "[^/]+".join(re.escape(part) for part in parts) + "$")


def placeholders_to_parameters(path: str) -> str:
    """`/api/profiles/<username>/follow` → `/api/profiles/{username}/follow`."""
    return re.sub(r"<([^>]*)>", r"{\1}", path)


# Settings ------------------------------------------------------------------------------------

_SETTING_SPAN = re.compile(r"^([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?:=\S*)?$")
_SETTING_ASSIGNMENT = re.compile(r"(?:^|\s)([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)=")


def settings(markdown: Markdown) -> list[Reference]:
    """`NAME` or `NAME=value` in a code span, and `NAME=` in a code block."""
    found = [
        Reference(ref.line, match[1])
        for ref in markdown.spans
        if (match := _SETTING_SPAN.match(ref.text))
    ]
    for ref in markdown.code_lines:
        line = ref.text.split(" #", 1)[0]
        found += [Reference(ref.line, name) for name in _SETTING_ASSIGNMENT.findall(line)]
    return found


# Commands ------------------------------------------------------------------------------------

_COMMAND_START = re.compile(
    r"(?:^|(?<=[\s$(;&|`/]))(?:\.venv/bin/|uv run )?portico((?:\s+[^\s#;&>`]+)*)"
)


def commands(markdown: Markdown) -> list[Reference]:
    """`portico ...` in a code span that starts with it, or on a command line of a code block."""
    found: list[Reference] = []
    for ref in markdown.spans:
        text = ref.text.removeprefix(".venv/bin/").removeprefix("uv run ")
        if text.startswith("portico ") or text == "portico":
            found.append(Reference(ref.line, text.split(" #", 1)[0].strip()))
    for ref in markdown.code_lines:
        line = ref.text.split(" #", 1)[0].strip()
        line = re.sub(r"^\$\s+", "", line)
        for part in re.split(r"\s*(?:&&|;|\|\|)\s*", line):
            words = part.split()
            while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
                words.pop(0)
            if words and words[0] in {"exec", "uv"} and words[1:2] != ["sync"]:
                words = words[2:] if words[0] == "uv" else words[1:]
            if words and words[0].removeprefix(".venv/bin/") == "portico":
                found.append(Reference(ref.line, " ".join(["portico", *words[1:]])))
    return found


def command_words(command: str) -> list[str]:
    """The words of a documented command line, alternatives (`a | b`) kept as `|`."""
    command = re.sub(r"\[|\]", " ", command)
    return [word for word in re.split(r"\s+|(?<=\S)\|(?=\S)", command.replace("|", " | ")) if word]


# Event types ---------------------------------------------------------------------------------

_FILE_SUFFIXES = frozenset({"py", "md", "yaml", "yml", "json", "toml", "html", "txt", "eml", "j2"})


def event_types(markdown: Markdown, aggregates: frozenset[str]) -> list[Reference]:
    """A code span `<aggregate>.<past-tense verb>`, such as `user.signed_in`.

    The verb is what tells an event type from a field (`user.email`, an error's key): some
    word of it ends in "ed", as every event type's does (docs/events.md).
    """
    found: list[Reference] = []
    for ref in markdown.spans:
        match = re.fullmatch(r"([a-z]+)\.([a-z][a-z_]*)", ref.text)
        if (
            match
            and match[1] in aggregates
            and match[2] not in _FILE_SUFFIXES
            and any(word.endswith("ed") for word in match[2].split("_"))
        ):
            found.append(ref)
    return found


# Files ---------------------------------------------------------------------------------------

ROOTS = ("src/", "tests/", "deploy/", "docs/", "bench/", "tools/", ".ci/")
SOURCE_ROOTS = ("domain/", "application/", "adapters/", "entrypoints/")
"""Paths the docs write relative to `src/`."""
_FILE_SPAN = re.compile(
    r"^\.?[A-Za-z0-9_\-]+(?:/[A-Za-z0-9_\-.]+)*/?(?:[A-Za-z0-9_\-]+\.[a-z0-9]+)?$"
)
_ATTRIBUTE_SPAN = re.compile(r"^[A-Za-z0-9_\-]+(?:/[A-Za-z0-9_\-]+)+\.[A-Z]\w*$")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def file_paths(markdown: Markdown) -> list[Reference]:
    """A code span that is a relative path under a root of the repository (or of `src/`)."""
    found: list[Reference] = []
    for ref in markdown.spans:
        text = ref.text.split(":", 1)[0] if re.search(r"\.py:\d", ref.text) else ref.text
        if not (_FILE_SPAN.match(text) or _ATTRIBUTE_SPAN.match(text)) or "/" not in text:
            continue
        if text.startswith(ROOTS) or (
            text.startswith(SOURCE_ROOTS) and (text.endswith("/") or "." in text)
        ):
            found.append(Reference(ref.line, text))
    return found


def links(markdown: Markdown) -> list[Reference]:
    """Every Markdown link to a file of the repository, anchor included."""
    return [
        Reference(ref.line, match[1])
        for ref in markdown.prose_lines
        for match in _LINK.finditer(_without_spans(ref.text))
        if not re.match(r"^[a-z][a-z+.-]*:", match[1])
    ]


def _without_spans(line: str) -> str:
    return _SPAN.sub("``", line)


def anchors(text: str) -> set[str]:
    """The anchors GitHub gives a document's headings."""
    found: set[str] = set()
    counts: dict[str, int] = {}
    for match in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", _without_fences(text), re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", match[1].lower().replace("`", "")).replace(" ", "-")
        seen = counts.get(slug, 0)
        found.add(slug if not seen else f"{slug}-{seen}")
        counts[slug] = seen + 1
    return found


def _without_fences(text: str) -> str:
    return "\n".join(_prose_only(text.splitlines()))


def _prose_only(lines: list[str]) -> Iterator[str]:
    fence: str | None = None
    for line in lines:
        opened = _FENCE.match(line)
        if fence is None and opened:
            fence = opened[1]
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None:
            yield line
