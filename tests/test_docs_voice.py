"""Every code block of docs/voice.md runs, in order, in one scratch directory.

``python`` blocks are executed in a fresh namespace each (against the embedded
simulator; tests/test_docs.py runs them too, as one program, like every page's);
``sh`` blocks line by line with this environment's ``accord`` first on the PATH and no
``OPENAI_API_KEY``, so nothing can reach the real API; a ``text`` block right after an
``sh`` block is that command's expected output, compared line by line. A block whose
first line is ``# doc: not run (REASON)`` (the marker of tests/test_docs.py) is not
run (python ones are still compiled), and only for the reasons below: a page cannot be
kept honest by skipping.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from docs_support import offline_env

DOC = Path(__file__).resolve().parent.parent / "docs" / "voice.md"
ALLOWED_SKIPS = {"needs a microphone", "needs OPENAI_API_KEY", "installs a package"}
_FENCE = re.compile(r"^```(?P<lang>\w*)\n(?P<body>.*?)\n```", re.DOTALL | re.MULTILINE)
_NOT_RUN = re.compile(r"# doc: not run(?: \((?P<reason>[^)]*)\))?")


@dataclass(frozen=True)
class Block:
    index: int
    line: int
    lang: str
    body: str
    skip: str | None

    @property
    def id(self) -> str:
        return f"{self.index}-{self.lang}-line{self.line}"


def _skip(body: str) -> str | None:
    """The reason a block is not run, from its first line; None: it runs."""
    marker = _NOT_RUN.match(body.lstrip())
    if marker is None:
        return None
    return marker["reason"] or "no reason given"


def blocks() -> list[Block]:
    text = DOC.read_text(encoding="utf-8")
    return [
        Block(n, text.count("\n", 0, m.start()) + 1, m["lang"], m["body"], _skip(m["body"]))
        for n, m in enumerate(_FENCE.finditer(text))
    ]


BLOCKS = blocks()


def test_the_page_has_code_and_only_allowed_skips() -> None:
    langs = [b.lang for b in BLOCKS]
    assert set(langs) <= {"python", "sh", "text"}
    assert langs.count("python") >= 5 and langs.count("sh") >= 2
    assert {b.skip for b in BLOCKS if b.skip} <= ALLOWED_SKIPS
    runnable_sh = [b for b in BLOCKS if b.lang == "sh" and not b.skip]
    assert any("--audio-in" in b.body and "--audio-out" in b.body for b in runnable_sh)
    for block in BLOCKS:
        if block.lang == "text":
            before = BLOCKS[block.index - 1]
            assert before.lang == "sh" and not before.skip, "a text block shows a command's output"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("voice-doc")


def _environment() -> dict[str, str]:
    env = offline_env()
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "200"  # rich would wrap long lines at 80
    return env


_OUTPUTS: dict[int, str] = {}


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_the_block_runs(block: Block, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if block.lang == "python":
        code = compile(block.body, f"{DOC.name}:{block.line}", "exec")
        if block.skip:
            pytest.skip(block.skip)
        monkeypatch.chdir(workdir)
        for name in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY"):
            monkeypatch.delenv(name, raising=False)
        exec(code, {"__name__": "__voice_doc__"})
        return
    if block.skip:
        pytest.skip(block.skip)
    if block.lang == "text":
        assert block.index - 1 in _OUTPUTS, "the command before it did not run"
        assert _OUTPUTS[block.index - 1].splitlines() == block.body.splitlines()
        return
    outputs: list[str] = []
    for line in block.body.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        done = subprocess.run(
            ["bash", "-c", line],
            cwd=workdir,
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    _OUTPUTS[block.index] = "".join(outputs).rstrip("\n")
