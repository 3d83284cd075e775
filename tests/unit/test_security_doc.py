"""docs/security.md maps every ASVS 5.0 level-2 requirement of V6, V7 and V9 to its evidence.

Each row names a status, and each test or doc section it cites must exist: renaming a cited
test, or dropping a row, fails here.
"""

import re
from collections import Counter
from pathlib import Path

import pytest

SECTION = "## ASVS 5.0 level 2: authentication, sessions, tokens"
STATUSES = ("met", "partly", "not met", "n/a")
BY_DESIGN = "By design"

# OWASP ASVS 5.0.0 (tag v5.0.0_release), every requirement of level 1 or 2 in V6
# (Authentication), V7 (Session Management) and V9 (Self-contained Tokens), with its level.
ASVS_LEVEL_2 = {
    **dict.fromkeys(["6.1.1", "6.2.1", "6.2.2", "6.2.3", "6.2.4", "6.2.5", "6.2.6"], 1),
    **dict.fromkeys(["6.2.7", "6.2.8", "6.3.1", "6.3.2", "6.4.1", "6.4.2"], 1),
    **dict.fromkeys(["6.1.2", "6.1.3", "6.2.9", "6.2.10", "6.2.11", "6.2.12"], 2),
    **dict.fromkeys(["6.3.3", "6.3.4", "6.4.3", "6.4.4"], 2),
    **dict.fromkeys(["6.5.1", "6.5.2", "6.5.3", "6.5.4", "6.5.5"], 2),
    **dict.fromkeys(["6.6.1", "6.6.2", "6.6.3", "6.8.1", "6.8.2", "6.8.3", "6.8.4"], 2),
    **dict.fromkeys(["7.2.1", "7.2.2", "7.2.3", "7.2.4", "7.4.1", "7.4.2"], 1),
    **dict.fromkeys(["7.1.1", "7.1.2", "7.1.3", "7.3.1", "7.3.2"], 2),
    **dict.fromkeys(["7.4.3", "7.4.4", "7.4.5", "7.5.1", "7.5.2", "7.6.1", "7.6.2"], 2),
    **dict.fromkeys(["9.1.1", "9.1.2", "9.1.3", "9.2.1"], 1),
    **dict.fromkeys(["9.2.2", "9.2.3", "9.2.4"], 2),
}

_ROW = re.compile(r"^\| (\d+\.\d+\.\d+) \|")
_REF = re.compile(r"`([^`]+)`")
_TEST_REF = re.compile(r"(tests/(?:unit|contract|integration|e2e)/[\w/]+\.py)::(\w+)")
_DOC_REF = re.compile(r"(docs/[\w/-]+\.md)#([\w-]+)")


class Row:
    """One requirement as the table states it."""

    def __init__(self, line: str) -> None:
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        assert len(cells) == 6, f"a row has six cells: {line}"
        self.id, level, self.requirement, self.status, self.how, self.evidence = cells
        self.level = int(level)
        self.chapter = "V" + self.id.split(".")[0]

    def refs(self) -> list[str]:
        """The cited tests and doc sections; the cell holds nothing else."""
        if self.evidence == "—":
            return []
        refs = _REF.findall(self.evidence)
        assert refs, f"{self.id}: evidence is `path::test` or `docs/x.md#section`, or —"
        leftover = _REF.sub("", self.evidence).replace(",", "").strip()
        assert not leftover, f"{self.id}: evidence holds only quoted references: {leftover!r}"
        return refs


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = heading.lstrip("#").strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def section_of(text: str) -> str:
    assert SECTION in text, f"docs/security.md has no section {SECTION!r}"
    after = text.split(SECTION, 1)[1]
    return re.split(r"^## ", after, maxsplit=1, flags=re.MULTILINE)[0]


@pytest.fixture(scope="module")
def section(project_root: Path) -> str:
    return section_of((project_root / "docs/security.md").read_text())


@pytest.fixture(scope="module")
def rows(section: str) -> list[Row]:
    return [Row(line) for line in section.splitlines() if _ROW.match(line)]


def test_every_level_2_requirement_has_exactly_one_row_with_its_level(rows: list[Row]) -> None:
    ids = [row.id for row in rows]
    assert len(ids) == len(set(ids)), "a requirement is listed twice"
    assert {row.id: row.level for row in rows} == ASVS_LEVEL_2


def test_every_row_has_a_status_and_says_why(rows: list[Row]) -> None:
    for row in rows:
        assert row.status in STATUSES, f"{row.id}: status {row.status!r} is not one of {STATUSES}"
        assert row.requirement, f"{row.id}: the requirement is blank"
        assert row.how, f"{row.id}: say how it is met, or why not"


def test_a_row_claiming_the_requirement_cites_evidence(rows: list[Row]) -> None:
    for row in rows:
        if row.status in {"met", "partly"} and not row.how.startswith(BY_DESIGN):
            assert row.refs(), f"{row.id} is {row.status}: cite the tests that show it"


def test_every_cited_test_and_section_exists(project_root: Path, rows: list[Row]) -> None:
    cited = 0
    for row in rows:
        for ref in row.refs():
            cited += 1
            assert_exists(project_root, ref, row.id)
    assert cited, "no reference was read: the evidence column is not being parsed"


def test_the_summary_counts_the_rows(section: str, rows: list[Row]) -> None:
    counted = Counter((row.chapter, row.status) for row in rows)
    chapters = sorted({row.chapter for row in rows})
    summary = {
        match[1]: [int(n) for n in match.groups()[1:]]
        for match in re.finditer(
            r"^\| (V\d+) [^|]* \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|$",
            section,
            re.MULTILINE,
        )
    }
    assert sorted(summary) == chapters
    for chapter in chapters:
        expected = [sum(counted[chapter, s] for s in STATUSES)]
        expected += [counted[chapter, s] for s in STATUSES]
        assert summary[chapter] == expected, f"the summary of {chapter} is stale"


def assert_exists(root: Path, ref: str, row_id: str) -> None:
    if test := _TEST_REF.fullmatch(ref):
        path = root / test[1]
        assert path.is_file(), f"{row_id}: {test[1]} does not exist"
        defined = re.search(rf"^\s*(?:async\s+)?def {test[2]}\(", path.read_text(), re.MULTILINE)
        assert defined, f"{row_id}: {test[1]} defines no {test[2]}"
    elif doc := _DOC_REF.fullmatch(ref):
        path = root / doc[1]
        assert path.is_file(), f"{row_id}: {doc[1]} does not exist"
        headings = re.findall(r"^#{1,6} .+$", path.read_text(), re.MULTILINE)
        assert doc[2] in {slug(h) for h in headings}, f"{row_id}: {doc[1]} has no #{doc[2]}"
    else:
        pytest.fail(f"{row_id}: {ref!r} is neither `tests/...py::test` nor `docs/x.md#section`")


def test_a_renamed_test_or_a_missing_section_is_caught(project_root: Path) -> None:
    here = "tests/unit/test_security_doc.py"
    assert_exists(project_root, f"{here}::test_a_renamed_test_or_a_missing_section_is_caught", "-")
    for missing in (
        f"{here}::test_that_was_renamed",
        "tests/unit/no_such_file.py::test_anything",
        "docs/security.md#no-such-section",
    ):
        with pytest.raises(AssertionError):
            assert_exists(project_root, missing, "-")
    with pytest.raises(pytest.fail.Exception):
        assert_exists(project_root, "src/domain/users/user.py", "-")
