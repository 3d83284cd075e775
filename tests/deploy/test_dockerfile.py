"""deploy/Dockerfile and .dockerignore agree with Portico and make a locked-down image.

No container engine runs on this project's CI machines, so nothing here builds the image.
Instead the Dockerfile is linted with hadolint and read instruction by instruction, and
every name it takes from Portico (a probe's route, the port `serve` listens on, the user,
the extras it installs) is checked against Portico itself: its app's routes and its
pyproject.toml. Whatever the image copies must be in the build context that .dockerignore
leaves, and what must stay out of the image (the local .env, the virtualenv, the tests)
must be left out. tests/deploy/test_kubernetes.py checks that the manifests agree with the
image.
"""

import fnmatch
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

from litestar import Litestar

from tests.support.deploy import (
    DOCKERFILE,
    ROOT,
    dockerfile_instructions,
    exec_form,
    image_instructions,
    image_user,
    public_get_paths,
)

DOCKERIGNORE = ROOT / ".dockerignore"
HADOLINT = Path(sys.executable).with_name("hadolint")


def dockerignored(path: str) -> bool:
    """Whether the build context leaves `path` out: the last matching pattern decides.

    A pattern matches a path or any directory above it, as Docker's does.
    """
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    parts = Path(path).parts
    candidates = ["/".join(parts[: index + 1]) for index in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.removeprefix("!").strip("/")
        if any(fnmatch.fnmatchcase(candidate, glob) for candidate in candidates):
            ignored = not negated
    return ignored


def test_the_image_healthcheck_asks_a_public_route_on_the_served_port(app: Litestar) -> None:
    (healthcheck,) = image_instructions("HEALTHCHECK")
    (url,) = re.findall(r"http://127\.0\.0\.1:(\d+)(/[\w/-]*)", healthcheck)
    port, path = url
    assert path in public_get_paths(app)
    (cmd,) = image_instructions("CMD")
    args = exec_form(cmd)
    assert port == args[args.index("--port") + 1]
    assert image_instructions("EXPOSE") == [port]
    assert "curl" not in healthcheck
    assert healthcheck.split("CMD", 1)[1].strip().startswith("["), "use the exec form"


def test_hadolint_passes() -> None:
    result = subprocess.run(
        [str(HADOLINT), str(DOCKERFILE)], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_user_is_numeric_and_not_root() -> None:
    uid, gid = image_user()
    assert uid != 0
    assert gid != 0


def test_the_image_gets_the_locked_runtime_dependencies_only() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    syncs = [
        shlex.split(instruction.arguments)
        for instruction in dockerfile_instructions()
        if instruction.keyword == "RUN" and "uv sync" in instruction.arguments
    ]
    assert syncs
    for words in syncs:
        assert {"--frozen", "--no-dev", "--no-editable"} <= set(words), words
        assert "--all-extras" not in words
        chosen = [words[index + 1] for index, word in enumerate(words) if word == "--extra"]
        assert set(chosen) <= set(extras), f"no such extra: {chosen}"
        assert "embedded" not in chosen


def test_everything_the_image_copies_is_in_the_build_context() -> None:
    sources: list[str] = []
    for instruction in dockerfile_instructions():
        words = shlex.split(instruction.arguments)
        if instruction.keyword == "COPY" and not any(w.startswith("--from") for w in words):
            sources.extend(word for word in words[:-1] if not word.startswith("--"))
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not dockerignored(source), f"{source} is left out by .dockerignore"
    assert dockerignored(".env")
    assert dockerignored(".venv/bin/python")
    assert dockerignored("tests/conftest.py")
