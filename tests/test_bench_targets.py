"""The target verdicts (pure functions over results): met, not met, not measured."""

from __future__ import annotations

from accord.bench import targets as tg
from accord.bench.diff_bench import DiffRow
from accord.bench.engine_bench import EngineRate
from accord.bench.push_bench import PushTiming
from accord.bench.sessions_bench import SessionsResult
from accord.bench.simproc import raise_open_files
from accord.bench.timing import DiffTiming
from accord.bench.update_bench import UpdateTiming


def _row(n: int, ours: float, theirs: float | None) -> DiffRow:
    timing = DiffTiming(n, ours, 0, 0, 0, "no LIS")
    other = None if theirs is None else DiffTiming(n, theirs, 0, 0, 0, "LIS")
    return DiffRow(n, 0, timing, other, None if theirs is None else "same")


def test_diff_targets() -> None:
    met = tg.diff_targets([_row(1_000, 0.2, 0.8), _row(10_000, 2.5, 9.0)])
    assert [v.status for v in met] == ["met", "met"]
    slow = tg.diff_targets([_row(1_000, 0.5, 0.8), _row(10_000, 3.5, 9.0)])
    assert [v.status for v in slow] == ["not met", "not met"]
    alone = tg.diff_targets([_row(10_000, 2.0, None)])
    assert [v.status for v in alone] == ["met", "not measured"]


def test_engine_target_takes_the_slowest_workload() -> None:
    rates = [EngineRate("text deltas", 100_000, 1.0), EngineRate("audio", 40_000, 1.0)]
    (verdict,) = tg.engine_targets(rates)
    assert verdict.status == "not met" and "audio" in verdict.measured


def test_push_target_takes_the_worst_size() -> None:
    fine = [PushTiming(100, 0.12, 0.1, 5), PushTiming(10_000, 14.0, 10.0, 5)]
    assert [v.status for v in tg.push_targets(fine)] == ["met"]
    slow = [PushTiming(100, 0.12, 0.1, 5), PushTiming(10_000, 16.0, 10.0, 5)]
    (verdict,) = tg.push_targets(slow)
    assert verdict.status == "not met" and "10,000" in verdict.measured
    assert [v.status for v in tg.push_targets([])] == ["not measured"]


def test_update_target_uses_the_idle_200_rows() -> None:
    rows = [
        UpdateTiming(200, "create", 115.0, 100.0),
        UpdateTiming(200, "delete", 110.0, 100.0),
        UpdateTiming(200, "create", 150.0, 100.0, mode="responding"),
    ]
    assert tg.update_targets(rows)[0].status == "met"
    rows[0] = UpdateTiming(200, "create", 125.0, 100.0)
    assert tg.update_targets(rows)[0].status == "not met"


def test_sessions_targets() -> None:
    ok = SessionsResult(1_000, connected=1_000, turns_scheduled=1_000, turns_completed=995)
    ok.bytes_per_idle_session = 150 * 1024
    ok.client_cpu, ok.active_s, ok.gc_s, ok.desyncs, ok.judged = 0.8, 20.0, 0.5, 0, 1_000
    assert [v.status for v in tg.sessions_targets([ok])] == ["met", "met", "met"]
    late = SessionsResult(1_000, connected=1_000, turns_scheduled=1_000, turns_completed=900)
    late.bytes_per_idle_session = 250 * 1024
    late.client_cpu, late.active_s, late.gc_s, late.desyncs = 0.8, 20.0, 4.0, 0
    assert [v.status for v in tg.sessions_targets([late])] == ["not met", "not met", "not met"]
    desynced = SessionsResult(1_000, connected=1_000, turns_scheduled=10, turns_completed=10)
    desynced.client_cpu, desynced.active_s, desynced.gc_s, desynced.desyncs = 0.8, 20.0, 0.1, 1
    assert tg.sessions_targets([desynced])[1].status == "not met"  # GC fine, one desync
    frozen = SessionsResult(1_000, turns_scheduled=10, turns_completed=10, gc_frozen=True)
    assert len(tg.sessions_targets([frozen])) == 2  # a tuned collector says nothing of GC
    errors = SessionsResult(1_000, turns_scheduled=10, turns_completed=10, errors={"x": 1})
    assert tg.sessions_targets([errors])[0].status == "not met"
    assert [v.status for v in tg.sessions_targets([])] == ["not measured", "not measured"]


def test_open_files_limit_is_raised_to_the_hard_limit() -> None:
    soft, hard = raise_open_files()
    assert soft == hard or hard < 0
