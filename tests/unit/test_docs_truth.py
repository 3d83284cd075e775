"""Every route, setting, command, event type and file the docs name exists in the code.

The documents are README.md, CONTRIBUTING.md, deploy/README.md, bench/README.md and
docs/**/*.md. What counts as a reference is in `tests/support/doc_references.py`; each test
here checks one kind against the code and lists every miss with its document and line.
"""

import functools
import importlib
import pkgutil
import re
from pathlib import Path
from typing import Any

import pytest
import typer
from litestar.routes import HTTPRoute, WebSocketRoute

import domain
from domain.shared.events import DomainEvent
from entrypoints.config.loader import ENV_FILE_VARIABLE, setting_specs
from tests.support import doc_references as refs
from tests.support.documented_app import documented_app
from tests.support.tutorial import tutorial_files, tutorial_routes

OTHER_VARIABLES = {
    ENV_FILE_VARIABLE: "the env file the settings are read from",
    "TEST_DATABASE_URL": "the tests' PostgreSQL (tests/conftest.py)",
    "TEST_REDIS_URL": "the tests' Redis (tests/conftest.py)",
    "BENCH_BASELINE": "the commit bench/content.py compares with (Makefile)",
    "PYTEST_ARGS": "the Makefile's arguments to pytest",
    "ATTACK_ARGS": "the Makefile's arguments to bench/attacks.py",
    "FUZZ_ARGS": "the Makefile's arguments to bench/fuzz.py",
    "POSTGRES_PASSWORD": "the PostgreSQL image's superuser password (deploy/compose.yaml)",
    "CONFORMANCE_URL": "the server `make conformance` tests",
    "CONFORMANCE_FOLDERS": "the folders `make conformance` runs",
    "CONFORMANCE_OUT": "where tools/conformance.sh keeps Bruno's reports",
}
"""Upper-case names in the docs that are variables but not settings; each is used somewhere."""

OPENTELEMETRY_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BSP_EXPORT_TIMEOUT",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_PROPAGATORS",
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
)
"""OpenTelemetry's standard variables that docs/observability.md names; its SDK reads them."""

FOREIGN_NAMES = {
    "MALLOC_MMAP_THRESHOLD_": "glibc's malloc tunable",
    "SCHED_BATCH": "a Linux scheduling policy",
    **dict.fromkeys(OPENTELEMETRY_VARIABLES, "OpenTelemetry's standard variable"),
}
"""Upper-case names of other programs' that the docs mention."""

MADE_BY_THE_READER = frozenset({".env", "deploy/.env"})
"""Files the docs tell the reader to create; git ignores them."""


@functools.cache
def project() -> Path:
    return Path(__file__).resolve().parents[2]


@functools.cache
def parsed() -> dict[str, refs.Markdown]:
    root = project()
    return {
        str(path.relative_to(root)): refs.parse(path.read_text()) for path in refs.documents(root)
    }


def misses(found: list[str]) -> str:
    return "these do not exist:\n  " + "\n  ".join(found)


def test_the_documents_are_found() -> None:
    assert {"README.md", "docs/configuration.md", "bench/README.md"} <= set(parsed())


@functools.cache
def known_routes() -> list[tuple[frozenset[str], re.Pattern[str], str]]:
    """Each route as (methods, pattern, path): /api from the OpenAPI document, the rest from
    the app's routes (the WebSocket, the schema and the API reference)."""
    app = documented_app()
    schema: dict[str, Any] = app.openapi_schema.to_schema()
    known = [
        (frozenset(method.upper() for method in operations), refs.route_pattern(path), path)
        for path, operations in schema["paths"].items()
    ]
    for route in app.routes:
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        if path.startswith("/api/"):
            continue
        if isinstance(route, WebSocketRoute):
            methods = frozenset({"WS", "GET"})  # the handshake is a GET
        elif isinstance(route, HTTPRoute):
            methods = frozenset(route.methods) - {"OPTIONS"}
        else:
            continue
        known.append((methods, refs.route_pattern(path), path))
    return known


def route_exists(route: refs.RouteReference) -> bool:
    """A path with methods names those routes; a bare path may be a prefix (a cookie's path,
    `/api/auth/*`)."""
    path = refs.placeholders_to_parameters(route.path)
    if not route.methods:
        prefix = path.removesuffix("*").rstrip("/")
        return any(
            pattern.match(path) or known == prefix or known.startswith(prefix + "/")
            for _, pattern, known in known_routes()
        )
    matching = [methods for methods, pattern, _ in known_routes() if pattern.match(path)]
    return bool(matching) and all(
        any(method in methods for methods in matching) for method in route.methods
    )


def test_every_route_the_docs_name_is_served() -> None:
    """The routes docs/tutorial.md adds are not served; tests/unit/test_tutorial.py runs them."""
    added = tutorial_routes(project())
    assert added, "the tutorial's controller declares no path"
    wrong = [
        route.at(document)
        for document, markdown in parsed().items()
        for route in refs.routes(markdown)
        if not route_exists(route)
        and not (document == "docs/tutorial.md" and route.path.startswith(tuple(added)))
    ]
    assert not wrong, misses(wrong)


@functools.cache
def source_constants() -> frozenset[str]:
    """Module-level upper-case names in src/, which the docs may cite (`USERNAME_MAX`)."""
    names: set[str] = set()
    for path in (project() / "src").rglob("*.py"):
        names.update(
            re.findall(r"^([A-Z][A-Z0-9_]*)\s*(?::[^=\n]*)?=", path.read_text(), re.MULTILINE)
        )
    return frozenset(names)


def is_known_name(name: str) -> bool:
    variables = {spec.variable for spec in setting_specs()}
    return (
        name in variables
        or name in OTHER_VARIABLES
        or name in FOREIGN_NAMES
        or name in source_constants()
    )


def test_every_setting_the_docs_name_is_read() -> None:
    wrong = [
        ref.at(document)
        for document, markdown in parsed().items()
        for ref in refs.settings(markdown)
        if not is_known_name(ref.text)
    ]
    assert not wrong, misses(wrong)


def test_the_other_variables_are_used() -> None:
    sources = (
        "\n".join(
            path.read_text(errors="replace")
            for folder in ("src", "tests", "bench", "deploy", "tools")
            for path in (project() / folder).rglob("*")
            if path.is_file()
            and path.suffix in {".py", ".yaml", ".yml", ".sh"}
            and path.name != "test_docs_truth.py"
        )
        + (project() / "Makefile").read_text()
    )
    unused = [name for name in OTHER_VARIABLES if name not in sources]
    assert not unused, f"no longer used, drop them from OTHER_VARIABLES: {unused}"


@functools.cache
def command_tree() -> Any:
    """The `portico` command as click sees it (typer carries its own click)."""
    from entrypoints.cli.commands import app  # noqa: PLC0415 - the CLI's own import order

    return typer.main.get_command(app)


def _subcommands(command: Any) -> dict[str, Any]:
    return dict(getattr(command, "commands", {}))


def _options(command: Any) -> set[str]:
    names = {"--help"}
    for param in command.params:
        if param.param_type_name == "option":
            names.update(param.opts)
            names.update(param.secondary_opts)
    return names


def check_command(line: str) -> str | None:
    """Why the documented command line does not exist, or None when it does.

    Words walk down the groups; `a | b` offers a sibling of `a` as `b`; every `-x` or `--x`
    must be an option of the command reached. Other words are arguments and pass.
    """
    words = refs.command_words(line)[1:]
    path: list[Any] = [command_tree()]
    for index, word in enumerate(words):
        if word == "...":
            return None
        if word == "|":
            continue
        if index > 0 and words[index - 1] == "|" and len(path) > 1:
            sibling = _subcommands(path[-2]).get(word)
            if sibling is not None:
                path[-1] = sibling
                continue
        current = path[-1]
        if _subcommands(current) and not word.startswith("-"):
            if word not in _subcommands(current):
                return f"no command {word!r} in {current.name!r}"
            path.append(_subcommands(current)[word])
        elif re.fullmatch(r"--?[a-z][a-z0-9-]*(=.*)?", word):
            option = word.split("=", 1)[0]
            if option not in _options(current):
                return f"no option {option} on {current.name!r}"
    return None


def test_every_command_and_flag_the_docs_name_exists() -> None:
    wrong = [
        f"{ref.at(document)} ({why})"
        for document, markdown in parsed().items()
        for ref in refs.commands(markdown)
        if (why := check_command(ref.text))
    ]
    assert not wrong, misses(wrong)


def _event_types() -> dict[str, str]:
    for module in pkgutil.walk_packages(domain.__path__, "domain."):
        importlib.import_module(module.name)
    types: dict[str, str] = {}
    stack: list[type[DomainEvent]] = [DomainEvent]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if isinstance(getattr(cls, "event_type", None), str):
            types[cls.event_type] = cls.aggregate_type
    return types


def test_every_event_type_the_docs_name_is_raised() -> None:
    types = _event_types()
    aggregates = frozenset(types.values())
    assert {"user", "article", "comment"} <= aggregates
    wrong = [
        ref.at(document)
        for document, markdown in parsed().items()
        for ref in refs.event_types(markdown, aggregates)
        if ref.text not in types
    ]
    assert not wrong, misses(wrong)


def _exists(path: str) -> bool:
    """The file or folder exists; `module.Name` names a class or constant in that module."""
    root = project()
    if path in MADE_BY_THE_READER:
        return True
    base = root / "src" if path.startswith(refs.SOURCE_ROOTS) else root
    if (base / path).exists():
        return True
    attribute = re.fullmatch(r"(.+)\.([A-Z]\w*)", path)
    if attribute is None or not (base / f"{attribute[1]}.py").is_file():
        return False
    module = (base / f"{attribute[1]}.py").read_text()
    return bool(re.search(rf"^(class |){attribute[2]}\b", module, re.MULTILINE))


def test_every_file_the_docs_name_is_in_the_repository() -> None:
    created = tutorial_files(project())
    wrong = [
        ref.at(document)
        for document, markdown in parsed().items()
        for ref in refs.file_paths(markdown)
        if not _exists(ref.text) and ref.text.removeprefix("src/") not in created
    ]
    assert not wrong, misses(wrong)


def test_every_link_leads_to_a_file_and_heading() -> None:
    root = project()
    wrong: list[str] = []
    for document, markdown in parsed().items():
        here = (root / document).parent
        for ref in refs.links(markdown):
            target, _, anchor = ref.text.partition("#")
            path = (here / target).resolve() if target else root / document
            if not path.exists() or not path.is_relative_to(root):
                wrong.append(ref.at(document))
            elif anchor and path.suffix == ".md" and anchor not in refs.anchors(path.read_text()):
                wrong.append(f"{ref.at(document)} (no heading for #{anchor})")
    assert not wrong, misses(wrong)


def test_nothing_points_outside_the_repository() -> None:
    root = project()
    wrong: list[str] = []
    for document, markdown in parsed().items():
        here = (root / document).parent
        # Outside docs/, a code block may show a file of the reader's own (a kustomize overlay).
        code = markdown.code_lines if document.startswith("docs/") else []
        for ref in [*markdown.prose_lines, *code]:
            wrong.extend(
                f"{document}:{ref.line}: {match[1]}"
                for match in re.finditer(r"(?<![\w./])((?:\.\./)+[\w.\-/]*)", ref.text)
                if not (here / match[1]).resolve().is_relative_to(root)
            )
    assert not wrong, "these lead out of the repository, where a clone has nothing:\n  " + (
        "\n  ".join(wrong)
    )


@pytest.mark.parametrize(
    ("reference", "line"),
    [
        ("route", "`GET /api/articles/{slug}/comment`"),
        ("route", "`DELETE /api/tags`"),
        ("route", "`/api/notification/stream`"),
        ("setting", "`JWT_SECRETS`"),
        ("command", "`portico outbox replay --until TIME`"),
        ("command", "`portico user ban mallory`"),
        ("event", "`user.logged_in`"),
        ("file", "`src/entrypoints/cli/command.py`"),
        ("link", "[ops](docs/operations.md#nowhere)"),
    ],
)
def test_a_wrong_name_is_caught(reference: str, line: str) -> None:
    markdown = refs.parse(f"Some prose, then {line}.\n")
    if reference == "route":
        (found,) = refs.routes(markdown)
        assert not route_exists(found)
    elif reference == "setting":
        (found_setting,) = refs.settings(markdown)
        assert not is_known_name(found_setting.text)
    elif reference == "command":
        (found_command,) = refs.commands(markdown)
        assert check_command(found_command.text)
    elif reference == "event":
        (found_event,) = refs.event_types(markdown, frozenset({"user"}))
        assert found_event.text not in _event_types()
    elif reference == "file":
        (found_file,) = refs.file_paths(markdown)
        assert not _exists(found_file.text)
    else:
        (found_link,) = refs.links(markdown)
        target, _, anchor = found_link.text.partition("#")
        assert anchor not in refs.anchors((project() / target).read_text())
