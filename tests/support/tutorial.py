"""The files docs/tutorial.md writes: every fenced block whose info string names a path.

A block opened with ```` ```python src/domain/bookmarks/bookmark.py ```` is that whole file;
one opened with ```` ```python src/adapters/sqlalchemy/tables.py (append) ```` goes at the
end of a file the repository already has.
"""

import re
from dataclasses import dataclass
from pathlib import Path

from tests.support.doc_references import parse

TUTORIAL = Path("docs/tutorial.md")


@dataclass(frozen=True, slots=True)
class TutorialFile:
    """One block of the tutorial: where it goes, and whether it is the whole file."""

    path: str
    text: str
    append: bool


def tutorial_blocks(root: Path) -> list[TutorialFile]:
    """Every block of the tutorial that names a file, in the document's order."""
    path = root / TUTORIAL
    if not path.is_file():
        return []
    blocks: list[TutorialFile] = []
    for info, block in parse(path.read_text()).fences:
        words = info.split()
        if len(words) >= 2 and "/" in words[1]:
            blocks.append(TutorialFile(words[1], block.text + "\n", words[2:] == ["(append)"]))
    return blocks


def tutorial_files(root: Path) -> set[str]:
    """The paths the tutorial creates, as written and relative to `src/`."""
    created = {block.path for block in tutorial_blocks(root) if not block.append}
    return created | {path.removeprefix("src/") for path in created}


def tutorial_routes(root: Path) -> set[str]:
    """The paths of the controllers the tutorial writes (`path = "/api/..."`)."""
    return {
        match[1]
        for block in tutorial_blocks(root)
        for match in re.finditer(r'^\s+path = "(/[^"]*)"', block.text, re.MULTILINE)
    }


def write_tutorial(root: Path, tree: Path) -> list[Path]:
    """Write the tutorial's blocks into `tree`, a copy of `root`; return the new files."""
    written: list[Path] = []
    for block in tutorial_blocks(root):
        target = tree / block.path
        if block.append:
            target.write_text(target.read_text() + "\n\n" + block.text)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.text)
            written.append(target)
    return written
