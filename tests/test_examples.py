"""The examples run as scripts, on the embedded simulator (never the real API)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from accord.engine.engine import SyncEngine
from accord.items import Item

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SECRETS = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "ACCORD_SIM_KEY")


def run_example(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}  # never the real API
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=EXAMPLES.parent,
        check=False,
    )


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), EXAMPLES / name)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["minimal_agent.py", "tool_heavy_agent.py"])
def test_examples_have_a_main(name: str) -> None:
    assert callable(load(name).main)


def test_minimal_agent_is_minimal() -> None:
    assert len((EXAMPLES / "minimal_agent.py").read_text().splitlines()) < 40


def test_minimal_agent_prints_the_transcript() -> None:
    result = run_example("minimal_agent.py")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines == [
        "user: Hello!",
        "assistant: You said: Hello!",
        "user: What is the weather in Paris?",
        "tool: FunctionCall",
        "tool: FunctionCallOutput",
        "assistant: Done. Paris: 18C, light wind",
    ]


def test_tool_heavy_agent_stays_in_sync() -> None:
    result = run_example("tool_heavy_agent.py")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for expected in [
        "user: Hi, I am Ada and I am planning an evening out.",
        "  tool get_weather: ok",
        "  tool book_table: ok",
        "  tool convert_currency: ok",
        "  tool lookup_order: failed (raised)",
        "user: Thanks, that is all.",
        "--- sync summary ---",
        "turns: 6",
        "tool calls: 4 (1 failed)",
        "server errors: 0",
        "mirror == store: yes",
    ]:
        assert expected in lines, f"{expected!r} missing from:\n{result.stdout}"
    assert any(line.startswith("  policy summarizer:") for line in lines)
    assert any(line.startswith("  policy redactor:") for line in lines)
    assert "4111" not in result.stdout  # the redactor ran before the reply read it
    [counts] = [line for line in lines if line.startswith("mirror items:")]
    mirror, store = (int(part.split(":")[1]) for part in counts.split(","))
    assert mirror == store > 0


async def test_tool_heavy_agent_fails_when_mirror_and_store_differ(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in SECRETS:
        monkeypatch.delenv(key, raising=False)
    real = SyncEngine.mirror_items

    def lossy(self: SyncEngine) -> list[Item]:
        return real(self)[:-1]  # a mirror that lost an item

    monkeypatch.setattr(SyncEngine, "mirror_items", lossy)
    module = load("tool_heavy_agent.py")
    assert await module.run(None) == 1
    assert "mirror == store: NO" in capsys.readouterr().out
