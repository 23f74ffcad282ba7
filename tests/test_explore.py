"""The explorer over the scenario library (one scenario per race of docs/races.md).

Every scenario is explored exhaustively at the suite's depth with both strategies:
accord must never produce a finding, the naive strategy must produce one wherever the
race names a naive failure, and each exploration must complete at least the scenario's
stated number of distinct schedules, so a broken explorer cannot pass by exploring
nothing. Random schedules, shrinking, replay files and the state hashing are tested too.
"""

from __future__ import annotations

import pytest

from accord.engine.merge import Rules
from accord.explore.explorer import explore, explore_random, shrink
from accord.explore.library import SCENARIOS, SUITE_DEPTH, select
from accord.explore.run import DOWN, UP, ScheduleError, ScheduleRun, play
from accord.explore.timeline import ScheduleFile
from accord.verify import harness

NAMES = list(SCENARIOS)
NAIVE_FLOOR = 5


def test_the_library_has_one_scenario_per_race() -> None:
    assert [f"r{i}" for i in range(1, 31)] == NAMES
    assert [s.race.split()[0] for s in SCENARIOS.values()] == [f"R{i}" for i in range(1, 31)]


@pytest.mark.parametrize("name", NAMES)
def test_accord_has_no_finding_in_any_schedule(name: str) -> None:
    sc = SCENARIOS[name]
    r = explore(sc, "accord", depth=SUITE_DEPTH)
    assert r.schedules >= sc.min_schedules, f"{name}: only {r.schedules} schedules"
    first = None if r.first is None else [str(f) for f in r.first.findings]
    assert r.violating == 0, f"{name}: {r.violating} schedules violate, first: {first}"
    rnd = explore_random(sc, "accord", seeds=range(30))
    assert rnd.schedules == 30 and rnd.violating == 0


@pytest.mark.parametrize("name", NAMES)
def test_the_naive_strategy_is_caught(name: str) -> None:
    sc = SCENARIOS[name]
    r = explore(sc, "naive", depth=SUITE_DEPTH)
    assert r.schedules >= NAIVE_FLOOR  # its ops differ, and so does its state space
    assert sc.naive_fails  # every race of the catalogue names a naive failure
    assert r.violating > 0, f"{name}: the naive strategy passed every schedule"
    rnd = explore_random(sc, "naive", seeds=range(200))
    found = r.kinds | rnd.kinds
    assert sc.naive_kinds <= found, f"{name}: {sorted(sc.naive_kinds - found)} not found"


def test_scenario_selection() -> None:
    assert [s.name for s in select("r1, R7")] == ["r1", "r7"]
    assert len(select(None)) == 30
    with pytest.raises(KeyError, match="no scenario 'r99'"):
        select("r99")


def test_state_hashing_prunes_but_finds_the_same_failures() -> None:
    """The fingerprint is exact: hashing only removes repeats, never a verdict."""
    for name in ("r1", "r5", "r6", "r8"):
        sc = SCENARIOS[name]
        hashed = explore(sc, "naive", depth=6)
        full = explore(sc, "naive", depth=6, hashing=False)
        assert hashed.pruned > 0
        assert full.schedules > hashed.schedules
        assert hashed.kinds == full.kinds
        assert (hashed.violating > 0) == (full.violating > 0)


def test_a_violation_shrinks_and_replays_from_its_file(tmp_path: pytest.TempPathFactory) -> None:
    sc = SCENARIOS["r1"]
    r = explore(sc, "naive", depth=SUITE_DEPTH)
    assert r.first is not None
    small = shrink(sc, "naive", r.first)
    assert len(small.choices) <= len(r.first.choices)
    kinds = {f.kind for f in small.findings}
    assert {"NO_LOST_ITEM", "CONVERGENCE"} <= kinds

    path = tmp_path / "r1.json"  # type: ignore[operator]
    ScheduleFile("r1", "naive", 0, small.choices, [str(f) for f in small.findings]).save(path)
    saved = ScheduleFile.load(path)
    run, again = play(SCENARIOS[saved.scenario], saved.strategy, saved.choices, record=True)
    assert [str(f) for f in again] == saved.findings
    assert run.choices == small.choices  # strict replay: every choice was enabled
    assert run.timeline is not None and any("delete fc1" in s.sent for s in run.timeline)
    # The same schedule under accord: nothing to find.
    _, clean = play(sc, "accord", saved.choices)
    assert clean == []


def test_a_schedule_file_that_is_not_one_is_refused(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "x.json"  # type: ignore[operator]
    path.write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="not an accord explore schedule"):
        ScheduleFile.load(path)


def test_forcing_a_disabled_choice_is_an_error() -> None:
    run = ScheduleRun(SCENARIOS["r1"], "accord")
    assert DOWN not in run.enabled() and UP not in run.enabled()
    with pytest.raises(ScheduleError, match="nothing to deliver down"):
        run.step(DOWN)
    with pytest.raises(ScheduleError, match="cannot take"):
        run.step("tool")  # the call is not ready yet
    with pytest.raises(ScheduleError, match="no actor"):
        run.step("nobody")


def test_independent_steps_reach_one_fingerprint() -> None:
    """The server applying a create and the client reading an older ack commute."""
    sc = SCENARIOS["r5"]
    a = ScheduleRun(sc, "accord")
    b = ScheduleRun(sc, "accord")
    for run in (a, b):
        run.step("trimmer")  # delete a3 goes up
        run.step(UP)  # the server deletes it; item.deleted is on its way down
        run.step("noter")  # create x goes up
    a.step(UP)
    a.step(DOWN)
    b.step(DOWN)
    b.step(UP)
    assert a.fingerprint() == b.fingerprint()
    c = ScheduleRun(sc, "accord")
    c.step("noter")
    assert c.fingerprint() != a.fingerprint()


def test_the_explorer_catches_accord_with_a_rule_switched_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Anti-toy: without the presence rule (never delete what the writer has not seen)
    accord loses fc1 in R1 like the naive strategy does, and the explorer says so."""
    monkeypatch.setattr(harness, "DEFAULT_RULES", Rules(presence=False))
    r = explore(SCENARIOS["r1"], "accord", depth=SUITE_DEPTH)
    assert r.violating > 0 and "NO_LOST_ITEM" in r.kinds


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_accord_deeper_and_random(name: str) -> None:
    """Outside the default suite (`pytest -m slow`): depth 10 and 2,000 random schedules."""
    sc = SCENARIOS[name]
    deep = explore(sc, "accord", depth=10)
    assert deep.violating == 0, [str(f) for f in deep.first.findings] if deep.first else None
    rnd = explore_random(sc, "accord", seeds=range(2000))
    assert rnd.violating == 0, [str(f) for f in rnd.first.findings] if rnd.first else None


def test_the_explorer_catches_a_follow_up_answered_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Anti-toy for R14: an engine that retries every refused follow-up (and asks for one
    even when a later response saw the outputs) answers them twice; the explorer says so."""
    monkeypatch.setattr(harness, "DEFAULT_RULES", Rules(follow_up_once=False))
    r = explore(SCENARIOS["r14"], "accord", depth=SUITE_DEPTH)
    rnd = explore_random(SCENARIOS["r14"], "accord", seeds=range(200))
    assert "ANSWERED_TWICE" in r.kinds | rnd.kinds


def test_a_loss_before_a_drop_is_still_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server session that a drop ends is judged too: with the presence rule off,
    accord loses fc1 in R1, and a disconnect afterwards must not hide it."""
    monkeypatch.setattr(harness, "DEFAULT_RULES", Rules(presence=False))
    sc = SCENARIOS["r1"]
    run = ScheduleRun(sc, "accord")
    run.complete()  # fc1 is lost in this schedule (see the anti-toy test above)
    lost = {f.kind for f in run.finish()}
    assert "NO_LOST_ITEM" in lost
    run = ScheduleRun(sc, "accord")
    run.complete()
    run.world.pair.drop()
    run.world.pair.reconnect()
    assert "NO_LOST_ITEM" in {f.kind for f in run.finish()}
