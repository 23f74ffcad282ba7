"""The documents the code cites are in the repository (that their code runs is
:mod:`test_docs`).

A reader of the repository has its ``docs/`` and nothing else: a comment that sends
them to a design note kept outside it sends them nowhere. So every ``docs/NAME.md``
that the source, the tests or the README name must exist, and none of them may name the
notes the project was started from by their outside names.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CITED = re.compile(r"\bdocs/([a-z0-9_-]+\.md)\b")
# The outside names, spelled so that this file does not match itself.
OUTSIDE = re.compile(
    r"(?:\b" + "shared" + r"/[A-Za-z_-]+\.md)|\b(?:DESIGN|RACES|STYLE|PROTOCOL-NOTES)\.md\b"
)


def texts() -> list[Path]:
    """The source, tests, docs, examples and README: where citations stand."""
    found = [REPO / "README.md"]
    for folder in ("src", "tests", "docs", "examples"):
        found += [p for p in (REPO / folder).rglob("*") if p.suffix in (".py", ".md")]
    return sorted(p for p in found if p.is_file())


def test_every_cited_doc_exists() -> None:
    missing = {
        f"{path.relative_to(REPO)}: docs/{name}"
        for path in texts()
        for name in CITED.findall(path.read_text(encoding="utf-8"))
        if not (REPO / "docs" / name).is_file()
    }
    assert sorted(missing) == []


def test_no_citation_points_outside_the_repository() -> None:
    outside = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()}"
        for path in texts()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert outside == []


def test_the_design_documents_are_there() -> None:
    for name in ("architecture.md", "races.md", "protocol-notes.md"):
        assert (REPO / "docs" / name).stat().st_size > 1000, name
