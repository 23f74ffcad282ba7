"""No module over 600 lines (docs/architecture.md, "Style").

A reader finds each concern in one small module named after it; a file that grows past
this has started to hold two, and is split where its sections already divide it.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LIMIT = 600


def test_no_module_is_over_the_limit() -> None:
    long = {
        str(path.relative_to(REPO)): n
        for folder in ("src", "tests", "examples")
        for path in sorted((REPO / folder).rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > LIMIT
    }
    assert long == {}, f"over {LIMIT} lines: {long}"
