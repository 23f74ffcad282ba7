"""The console script: every subcommand is wired; the interim demo shows R1's loss."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from accord.cli.main import app
from accord.explore.walkthrough import play_r1
from accord.verify.checker import Invariant

runner = CliRunner()


@pytest.mark.parametrize(
    "args",
    [["demo"], ["sim", "serve"], ["chat"], ["stress"], ["explore"], ["bench", "diff"], ["replay"]],
)
def test_every_subcommand_has_help(args: list[str]) -> None:
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output


def test_demo_shows_r1_naive_versus_accord() -> None:
    result = runner.invoke(app, ["demo", "--race", "r1"])
    assert result.exit_code == 0, result.output
    assert "delete fc1" in result.output and "invalid_tool_call_id" in result.output
    assert "0 violations" in result.output


def test_r1_walkthrough_naive_breaks_what_the_catalogue_says() -> None:
    result = play_r1("naive")
    broken = {(v.invariant, v.item_id) for v in result.violations}
    assert (Invariant.NO_LOST_ITEM, "fc1") in broken
    assert (Invariant.CONVERGENCE, "fc1") in broken
    assert [i.id for i in result.server][:2] == ["a0", "u1"]
    assert any("invalid_tool_call_id" in e for s in result.steps for e in s.errors)


def test_r1_walkthrough_accord_keeps_the_call() -> None:
    result = play_r1("accord")
    assert result.violations == []
    ids = [i.id for i in result.server]
    assert ids[:3] == ["a0", "u1", "fc1"] and ids[3].startswith("out_")
    assert result.mirror == result.server


def test_sim_serve_prints_its_url_first_and_serves() -> None:
    """`accord sim serve` prints the URL on its first line, on loopback, until stopped."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "accord.cli.main", "sim", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first.startswith("ws://127.0.0.1:") and first.endswith(
            "/v1/realtime?model=gpt-realtime"
        )
        assert proc.poll() is None  # still serving
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_chat_without_a_key_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = runner.invoke(app, ["chat"])
    assert result.exit_code == 2
    assert "OPENAI_API_KEY" in result.output and "--sim" in result.output


def test_chat_with_the_simulator() -> None:
    result = runner.invoke(app, ["chat", "--sim"], input="what is the weather in Paris?\n/quit\n")
    assert result.exit_code == 0, result.output
    assert "get_weather" in result.output and "Paris" in result.output
