"""`accord explore` end to end: tables, exit codes, violation files and their replay."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from accord.cli.main import app

runner = CliRunner()


def test_accord_passes_and_exits_zero(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "explore",
            "--scenario",
            "r1,r16",
            "--depth",
            "5",
            "--seeds",
            "10",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "exhaustive" in result.output and "random" in result.output
    assert "r16" in result.output and "all" in result.output
    assert list(tmp_path.iterdir()) == []  # nothing violated, nothing written


def test_naive_fails_prints_a_timeline_and_writes_a_replayable_file(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            *("explore", "--strategy", "naive", "--scenario", "r1", "--depth", "6", "--seeds", "0"),
            *("--out", str(tmp_path)),
        ],
    )
    assert result.exit_code == 1, result.output
    assert "R1 In-flight function call" in result.output
    assert "delete fc1" in result.output  # the timeline shows the bad delete
    assert "NO_LOST_ITEM [fc1]" in result.output
    saved = tmp_path / "r1-naive.json"
    data = json.loads(saved.read_text())
    assert data["scenario"] == "r1" and data["strategy"] == "naive" and data["choices"]

    replayed = runner.invoke(app, ["explore", "--replay", str(saved)])
    assert replayed.exit_code == 1
    assert "NO_LOST_ITEM [fc1]" in replayed.output


def test_json_output(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            *("explore", "--scenario", "r5", "--depth", "4", "--seeds", "3", "--json"),
            *("--out", str(tmp_path)),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    modes = [(r["scenario"], r["mode"]) for r in data["results"]]
    assert modes == [("r5", "exhaustive"), ("r5", "random")]
    assert data["results"][0]["schedules"] > 0 and data["violations"] == []


def test_deepen_reports_the_depth_reached() -> None:
    result = runner.invoke(app, ["explore", "--scenario", "r17", "--deepen", "5", "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout.strip().splitlines()[-1])["rows"]
    assert row["scenario"] == "r17" and row["depth"] >= 3


def test_bad_input_is_refused_clearly(tmp_path: Path) -> None:
    result = runner.invoke(app, ["explore", "--scenario", "r99"])
    assert result.exit_code == 2 and "no scenario 'r99'" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    result = runner.invoke(app, ["explore", "--replay", str(bad)])
    assert result.exit_code == 2 and "cannot replay" in result.output
    result = runner.invoke(app, ["explore", "--strategy", "greedy"])
    assert result.exit_code == 2


def test_list_shows_the_library() -> None:
    result = runner.invoke(app, ["explore", "--list"])
    assert result.exit_code == 0
    assert "r22" in result.output and "R14" in result.output


def test_deepen_with_a_violation_exits_one_and_writes_it(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            *("explore", "--strategy", "naive", "--scenario", "r1", "--deepen", "5"),
            *("--out", str(tmp_path)),
        ],
    )
    assert result.exit_code == 1, result.output
    assert (tmp_path / "r1-naive.json").exists()


def test_a_schedule_that_does_not_fit_is_refused(tmp_path: Path) -> None:
    stale = tmp_path / "stale.json"
    stale.write_text(
        json.dumps(
            {
                "format": "accord-explore-schedule/1",
                "scenario": "r1",
                "strategy": "accord",
                "choices": ["nobody"],
                "findings": [],
            }
        )
    )
    result = runner.invoke(app, ["explore", "--replay", str(stale)])
    assert result.exit_code == 2 and "does not fit" in result.output
