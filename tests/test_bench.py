"""`accord bench`: every benchmark runs and reports (never a timing assertion), the
LiveKit comparison is a fair one (same cases, equivalent diffs), and the optional
extras are optional."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from typer.testing import CliRunner

from accord.bench import engine_bench, livekit_diff, suite
from accord.bench.diff_bench import PATH_IN_ORDER, PATH_LIS, accord_path
from accord.bench.edits import make_edit_case
from accord.bench.report import Report
from accord.bench.targets import Verdict
from accord.cli.main import app
from accord.diff import compute_diff
from accord.items import ChatContext, FunctionCall, FunctionCallOutput, Message

runner = CliRunner()


def _by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["benchmark"]: entry for entry in data["results"]}


def test_bench_quick_runs_every_benchmark_and_reports() -> None:
    """The issue's `accord bench --quick`: all four subcommands, quickly, as JSON."""
    result = runner.invoke(app, ["bench", "--quick", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["benchmark"] == "all" and data["quick"] is True
    reports = _by_name(data)
    assert list(reports) == ["diff", "engine", "push", "update", "sessions"]

    diff = reports["diff"]["results"]
    assert [r["n"] for r in diff] == [100, 1000]
    assert all(r["best_ms"] > 0 and r["removed"] > 0 and r["created"] > 0 for r in diff)
    assert all(r["livekit_ms"] > 0 and r["agreement"] == "same" for r in diff)  # dev has it

    engine = reports["engine"]["results"]
    assert {r["workload"] for r in engine} == {"text deltas", "audio deltas (4 KiB)", "item events"}
    assert all(r["per_second"] > 0 and r["events"] >= 500 for r in engine)
    assert all(r["floor_seconds"] > 0 and r["floor_ratio"] > 0 for r in engine)

    push = reports["push"]["results"]
    assert [r["n"] for r in push] == [100]
    assert all(r["push_ms"] > 0 and r["diff_ms"] > 0 and r["ratio"] > 0 for r in push)

    update = reports["update"]["results"]
    assert {(r["n"], r["kind"], r["mode"]) for r in update} == {
        (n, kind, mode)
        for n in (1, 10)
        for kind in ("create", "delete")
        for mode in ("idle", "responding")
    }
    assert all(r["median_ms"] > 0 and r["rtt_ms"] > 0 for r in update)
    # The responding rows really ran with a response streaming, and deleted for real.
    responding = [r for r in update if r["mode"] == "responding"]
    assert all(r["active_runs"] == r["runs"] and r["deferred"] == 0 for r in responding)

    (sessions,) = reports["sessions"]["results"]
    assert sessions["connected"] == sessions["sessions"] == 20
    assert sessions["bytes_per_idle_session"] > 0
    assert sessions["turns_completed"] > 0 and sessions["tool_calls"] > 0
    assert sessions["events_per_s"] > 0 and sessions["p50_ms"] is not None
    assert sessions["errors"] == {}
    assert all("targets" not in entry for entry in data["results"])  # quick: no verdicts


def test_bench_without_a_subcommand_shows_help() -> None:
    for args in (["bench"], ["bench", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "sessions" in result.output and "--quick" in result.output


def test_bench_flags_before_the_subcommand_reach_it() -> None:
    result = runner.invoke(app, ["bench", "--quick", "--json", "engine"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["benchmark"] == "engine"


@pytest.mark.parametrize("status", ["met", "not met"])
def test_bench_check_exits_1_when_a_target_is_not_met(
    monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    """`accord bench update` printed "not met" and exited 0: --check makes it a failure."""
    verdict = Verdict("200 operations within 1.2 x one round trip", "1.24 x", status)  # type: ignore[arg-type]

    def measured(**_kwargs: Any) -> Report:
        return Report("update", [{"ops": 200}], verdicts=[verdict])

    monkeypatch.setattr(suite, "run_update", measured)
    checked = runner.invoke(app, ["bench", "update", "--check"])
    assert checked.exit_code == (1 if status == "not met" else 0), checked.output
    if status == "not met":
        assert "target not met" in checked.output and "1.24 x" in checked.output
    assert runner.invoke(app, ["bench", "update"]).exit_code == 0  # no --check: a report


def test_bench_diff_quick_json() -> None:
    result = runner.invoke(app, ["bench", "diff", "--quick", "--json", "--repeat", "1"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["benchmark"] == "diff"
    assert [r["n"] for r in data["results"]] == [100, 1000]
    assert all(r["best_ms"] > 0 and r["removed"] > 0 for r in data["results"])
    assert all(r["path"] == PATH_IN_ORDER for r in data["results"])


@pytest.mark.parametrize("moves", [0, 7])
@pytest.mark.parametrize("n", [10, 100, 1000])
def test_livekit_diff_is_equivalent_on_the_same_cases(n: int, moves: int) -> None:
    """The comparison is fair: both get the same case and produce the same diff (same
    removed set, same created ids and anchors, same rewritten ids). With moves, several
    longest subsequences may tie: then both diffs are at least equally minimal."""
    lk = livekit_diff.load()
    assert lk is not None, "dev installs livekit-agents (the compare extra)"
    case = make_edit_case(n, moves=moves)
    ours = compute_diff(case.old, case.new)
    theirs = lk.diff(lk.convert(case.old), lk.convert(case.new))
    if moves == 0:
        assert livekit_diff.same_diff(ours, theirs)
        assert set(theirs.to_remove) == set(ours.to_remove)
        assert [i for _, i in theirs.to_create] == [i for _, i in ours.to_create]
    else:
        assert livekit_diff.agreement(ours, theirs) in (livekit_diff.SAME, livekit_diff.SAME_SIZE)


def test_livekit_conversion_keeps_calls_and_outputs() -> None:
    lk = livekit_diff.load()
    assert lk is not None
    old = ChatContext(
        [
            Message(id="u1", role="user", content="weather?"),
            FunctionCall(id="fc1", call_id="c1", name="get_weather", arguments="{}"),
            FunctionCallOutput(id="out1", call_id="c1", output="18C"),
            Message(id="a1", role="assistant", content="18C"),
        ]
    )
    new = old.filter(lambda item: item.id != "u1")
    new.append(Message(id="u2", role="user", content="thanks"))
    converted = lk.convert(old)
    assert [item.id for item in converted.items] == old.ids()
    assert [item.type for item in converted.items] == [
        "message",
        "function_call",
        "function_call_output",
        "message",
    ]
    theirs = lk.diff(converted, lk.convert(new))
    assert livekit_diff.same_diff(compute_diff(old, new), theirs)


def test_paths_are_reported_as_each_implementation_takes_them() -> None:
    plain = make_edit_case(500)
    moved = make_edit_case(500, moves=5)
    assert accord_path(plain.old, plain.new) == PATH_IN_ORDER
    assert accord_path(moved.old, moved.new) == PATH_LIS
    ids = [f"i{k}" for k in range(5)]
    assert livekit_diff.livekit_path(ids, ids[::-1]) == livekit_diff.PATH_UNIQUE_LIS
    assert livekit_diff.livekit_path([*ids, "i0"], ids) == livekit_diff.PATH_TABLE
    # The rule matches LiveKit's own fast-path test (a private function of 1.8.9).
    from livekit.agents.llm import utils

    check = getattr(utils, "_compute_unique_ids_lcs", None)
    if check is not None:
        assert (check(ids, ids[::-1]) is not None) is True
        assert check([*ids, "i0"], ids) is None


def test_moves_leave_the_default_workload_alone() -> None:
    """``moves`` uses its own random stream: the foundation workload is unchanged."""
    plain, moved = make_edit_case(300), make_edit_case(300, moves=4)
    assert sorted(plain.new.ids()) == sorted(moved.new.ids())
    assert plain.new.ids() != moved.new.ids()
    assert make_edit_case(300).new == plain.new


def test_diff_without_livekit_says_it_skipped_and_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("livekit.agents", "livekit.agents.llm", "livekit.agents.llm.utils"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if not installed
    assert livekit_diff.load() is None
    report = suite.run_diff(quick=True, repeat=1)
    assert all(r["livekit_ms"] is None and r["ratio"] is None for r in report.results)
    assert livekit_diff.SKIPPED in report.notes
    result = runner.invoke(app, ["bench", "diff", "--quick", "--repeat", "1"])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "comparison skipped" in flat and 'pip install "accord[compare]"' in flat


def test_plot_writes_a_png(tmp_path: Any) -> None:
    out = tmp_path / "diff.png"
    result = runner.invoke(
        app, ["bench", "diff", "--quick", "--repeat", "1", "--json", "--plot", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["plot"] == str(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    report = suite.run_diff(quick=True, repeat=1, compare=False, plot=tmp_path / "x.png")
    assert any('pip install "accord[plot]"' in note for note in report.notes)
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("workload", list(engine_bench.WORKLOADS))
def test_engine_floor_dispatches_every_frame(workload: str) -> None:
    # The floor must do the work it claims (decode and dispatch each frame), or its
    # ratio flatters the full path.
    frames = engine_bench.WORKLOADS[workload](40)
    assert engine_bench.floor(frames) == len(frames)


def test_the_sessions_judge_counts_a_conversation_the_server_does_not_hold() -> None:
    """The sessions benchmark's desync count compares each quiet session's mirror with
    what the simulator holds for its server session; a difference is counted."""
    import asyncio
    from types import SimpleNamespace

    from accord.bench import sessions_bench
    from accord.client.core import SessionCore

    def bench(server_id: str, ids: list[str]) -> Any:
        core = SessionCore(seed=0)
        core.session_info = {"id": server_id}
        for frame in engine_bench.item_frames(2 * len(ids)):
            core.receive_frame(frame, 0.0)
        return SimpleNamespace(session=SimpleNamespace(core=core)), core.engine.mirror.ids()

    same, held_same = bench("sess_a", ["x", "y"])
    other, held_other = bench("sess_b", ["x", "y", "z"])
    sim: Any = SimpleNamespace(
        conversation_ids=lambda: {"sess_a": held_same, "sess_b": held_other[:-1]}
    )
    result = sessions_bench.SessionsResult(sessions=2)
    asyncio.run(sessions_bench._judge([same, other], sim, result))
    assert (result.desyncs, result.judged) == (1, 2)
