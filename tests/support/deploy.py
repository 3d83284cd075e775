"""The deployment files as the deploy tests read them: the Dockerfile, and Portico's routes.

tests/deploy/test_dockerfile.py checks the image on its own, and
tests/deploy/test_kubernetes.py checks that the manifests agree with it (its user, its
environment, its entrypoint and command), so both read the Dockerfile through the same
parser here rather than each through its own. No container engine runs on this project's CI
machines: the Dockerfile is read as text, never built.
"""

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from litestar import Litestar
from litestar.routes import HTTPRoute

ROOT = Path(__file__).resolve().parents[2]
"""The repository's root: the image's build context, and where pyproject.toml is."""

DOCKERFILE = ROOT / "deploy" / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction, continuations joined, with the number of its stage.

    Stages are numbered from 0 in the order of their FROM; the last stage is the image.
    """

    keyword: str
    arguments: str
    stage: int


def dockerfile_instructions() -> list[Instruction]:
    """Every instruction of the Dockerfile, in order; comments and blank lines left out."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions: list[Instruction] = []
    stage = -1
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword, _, arguments = stripped.partition(" ")
        if keyword.upper() == "FROM":
            stage += 1
        instructions.append(Instruction(keyword.upper(), arguments.strip(), stage))
    return instructions


def image_instructions(keyword: str) -> list[str]:
    """Every `keyword` instruction of the final stage, the one the image is made of."""
    instructions = dockerfile_instructions()
    last_stage = max(instruction.stage for instruction in instructions)
    return [
        instruction.arguments
        for instruction in instructions
        if instruction.stage == last_stage and instruction.keyword == keyword
    ]


def image_env() -> dict[str, str]:
    """The variables the image's ENV instructions set, a later one overriding an earlier."""
    env: dict[str, str] = {}
    for arguments in image_instructions("ENV"):
        for pair in shlex.split(arguments):
            name, _, value = pair.partition("=")
            env[name] = value
    return env


def image_user() -> tuple[int, int]:
    """The image's (uid, gid), from its last USER; a name instead of a number fails.

    A pod's runAsNonRoot can only be checked against a numeric user, and the manifests must
    name the same numbers, so both files' tests go through this.
    """
    *_, user = image_instructions("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), f"USER {user}: name the user by number, so runAsNonRoot can check it"
    assert gid.isdigit(), f"USER {user}: name the group by number too"
    return int(uid), int(gid)


def exec_form(arguments: str) -> list[str]:
    """The argument list of an ENTRYPOINT, CMD or the like; the shell form fails."""
    parsed = json.loads(arguments)
    assert isinstance(parsed, list), f"{arguments}: use the exec (JSON array) form"
    return parsed


def public_get_paths(app: Litestar) -> set[str]:
    """Paths that answer GET without a token, as a probe needs."""
    return {
        route.path
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        if "GET" in handler.http_methods and handler.opt.get("public")
    }
