"""Every Python code block in docs/*.md runs as written, in a fresh interpreter.

A page's blocks run in order in one process (later blocks use what earlier ones
defined), against the simulator that ships with accord; nothing reaches the network
beyond loopback. A block that cannot run here (a microphone, the real API) is marked by
a first line ``# doc: not run`` and skipped, saying so.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from docs_support import offline_env

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
NOT_RUN = "# doc: not run"


def pages_with_code() -> list[Path]:
    return sorted(p for p in DOCS.glob("*.md") if BLOCK.search(p.read_text(encoding="utf-8")))


def program(page: Path) -> str:
    blocks = BLOCK.findall(page.read_text(encoding="utf-8"))
    return "\n\n".join(b for b in blocks if not b.lstrip().startswith(NOT_RUN))


def test_the_docs_have_code_to_run() -> None:
    assert DOCS / "agent.md" in pages_with_code()


def test_the_pages_run_without_any_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "must-not-leak")
    env = offline_env()
    assert "OPENAI_API_KEY" not in env and "AZURE_OPENAI_API_KEY" not in env
    assert env.get("PATH") == os.environ.get("PATH")


@pytest.mark.parametrize("page", pages_with_code(), ids=lambda p: p.name)
def test_every_code_block_of_the_page_runs(page: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", program(page)],
        cwd=tmp_path,
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{page.name}:\n{done.stdout}\n{done.stderr}"
