"""``accord stress --journal URL --kill-every S``: workers SIGKILLed at random moments,
their sessions resumed by the other workers and judged (issue 19).

Small real runs (spawned worker processes, real SIGKILLs): with SQLite and with a real
``redis-server`` every killed worker's sessions are resumed with nothing lost, one
output per call and no duplicate reply; resumes broken on purpose (one reads the
journal without its tool outputs, one without its last reply and asks for it again) are
caught by the judge; and the judge's parts, each shown to fail on what it must catch.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from accord.cli.main import app
from accord.engine import events as ev
from accord.items import FunctionCall, FunctionCallOutput, Message
from accord.journal import CallFinished, CallStarted, Entry, Opened, Record
from accord.sim.store import ConversationStore
from accord.stress import StressConfig, StressReport, run_stress
from accord.stress.judge import (
    SessionJudge,
    answered_inputs,
    calls_without_one_output,
    resume_entries,
)
from accord.stress.killer import KillCounts
from accord.stress.outcome import SessionOutcome
from accord.stress.report import build_report
from accord.stress.worker import WorkerResult
from accord.verify.checker import Invariant
from journal_support import redis_url
from stress_kill_support import drop_outputs, forget_last_reply
from test_stress import FakeCore, create

__all__ = ["redis_url"]  # fixture

# 8 sessions on 3 workers for 7 s, a kill about every 2 s: two to four kills (the first
# within 3 s).
SMALL = {"sessions": 8, "seconds": 7.0, "workers": 3, "kill_every": 2.0, "seed": 4}


def killing_run(journal: str, **overrides: object) -> StressReport:
    fields = {**SMALL, "journal": journal, **overrides}
    return run_stress(StressConfig(**fields))  # type: ignore[arg-type]


def assert_survived(report: StressReport) -> None:
    assert report.workers_killed >= 1 and report.sessions_resumed >= 1, report
    assert report.restores_judged >= 1  # a resume's restore was judged (invariant 7)
    assert report.lost_items == 0, report.findings
    assert report.calls_without_one_output == 0, report.findings
    assert report.duplicate_replies == 0, report.findings
    assert report.desyncs == 0 and report.errors == 0, report.findings
    assert report.turns > 0 and report.passed


def test_killed_workers_sessions_are_resumed_with_nothing_lost_sqlite(tmp_path: Path) -> None:
    assert_survived(killing_run(f"sqlite:///{tmp_path / 'journal.db'}"))


def test_killed_workers_sessions_are_resumed_with_nothing_lost_redis(redis_url: str) -> None:
    assert_survived(killing_run(redis_url))


def test_a_resume_that_drops_the_journals_outputs_is_caught(tmp_path: Path) -> None:
    config = StressConfig(**{**SMALL, "journal": f"sqlite:///{tmp_path / 'j.db'}"})  # type: ignore[arg-type]
    report = run_stress(config, resume_reader=drop_outputs)
    assert report.workers_killed >= 1 and report.sessions_resumed >= 1
    assert report.lost_items > 0, report  # the outputs the journal held are not restored
    assert not report.passed
    assert any("not restored" in line for line in report.findings), report.findings


def test_a_resume_that_asks_again_for_a_reply_it_had_is_caught(tmp_path: Path) -> None:
    config = StressConfig(**{**SMALL, "journal": f"sqlite:///{tmp_path / 'j.db'}"})  # type: ignore[arg-type]
    report = run_stress(config, resume_reader=forget_last_reply)
    assert report.workers_killed >= 1 and report.sessions_resumed >= 1
    assert report.duplicate_replies > 0, report  # the turn it had answered, answered again
    assert report.lost_items > 0  # and the reply the journal held is not restored
    assert not report.passed


def test_kill_every_needs_a_journal_and_two_workers() -> None:
    with pytest.raises(ValueError, match="needs --journal"):
        StressConfig(workers=2, kill_every=1.0)
    with pytest.raises(ValueError, match="workers 2"):
        StressConfig(workers=1, kill_every=1.0, journal="sqlite:///j.db")
    with pytest.raises(ValueError, match="positive"):
        StressConfig(workers=2, kill_every=0.0, journal="sqlite:///j.db")
    with pytest.raises(ValueError, match="not memory"):
        StressConfig(workers=2, kill_every=1.0, journal="sqlite://")
    runner = CliRunner()
    result = runner.invoke(app, ["stress", "--kill-every", "2", "--workers", "2"])
    assert result.exit_code == 2 and "needs --journal" in result.output
    result = runner.invoke(app, ["stress", "--journal", "mysql://x", "--sessions", "1"])
    assert result.exit_code == 2 and "--journal" in result.output


# -- the judge's parts ---------------------------------------------------------------------

U1 = Message(id="u1", role="user", content="book a table")
CALL = FunctionCall(id="fc1", call_id="call1", name="book_table", arguments="{}")
OUT = FunctionCallOutput(id="out1", call_id="call1", output='{"booked": true}')
A1 = Message(id="a1", role="assistant", content="booked")
JOURNAL: list[Record] = [
    Opened(0.0),
    Entry(U1, None),
    Entry(CALL, "u1"),
    CallStarted("call1"),
    Entry(OUT, "fc1"),
    CallFinished("call1"),
]


def judged_resume(*restored: object) -> list[tuple[Invariant, str | None]]:
    """A judge told the journal above, and a resume whose restore creates ``restored``."""
    store = ConversationStore()
    core = FakeCore()
    judge = SessionJudge(core, lambda: store)  # type: ignore[arg-type]
    judge.expect_resume(resume_entries(JOURNAL))
    prev = "root"
    for n, item in enumerate(restored):
        create(core, store, f"r{n}", item, prev)  # type: ignore[arg-type]
        prev = item.id  # type: ignore[attr-defined]
    core.effect(ev.Resumed(len(restored), ()))
    core.engine.mirror = store.items()
    verdict = judge.verdict()
    assert verdict.restores_judged == 1
    return [(v.invariant, v.item_id) for v in verdict.violations]


def test_a_resume_restoring_the_journal_passes_and_one_leaving_an_output_out_is_lost() -> None:
    assert judged_resume(U1, CALL, OUT) == []
    found = judged_resume(U1, CALL)
    assert (Invariant.LOSSLESS_RECONNECT, "out1") in found


def test_a_running_tool_that_may_not_run_twice_is_expected_answered_as_interrupted() -> None:
    entries = resume_entries(JOURNAL[:4])  # killed while the tool ran: no output yet
    assert [e.item.id for e in entries][:2] == ["u1", "fc1"]
    (answer,) = entries[2:]
    assert isinstance(answer.item, FunctionCallOutput) and answer.item.call_id == "call1"
    assert "interrupted" in answer.item.output


def test_calls_without_exactly_one_output_are_counted() -> None:
    store = ConversationStore()
    store.create(U1, "root")
    store.create(CALL, "u1")
    assert calls_without_one_output(store) == 1  # no output
    store.create(OUT, "fc1")
    assert calls_without_one_output(store) == 0
    store.create(FunctionCallOutput("out2", "call1", "again"), "out1")
    assert calls_without_one_output(store) == 1  # two outputs
    store.delete("out2")
    assert calls_without_one_output(store) == 0


def test_inputs_a_restored_reply_answered_count_as_answered() -> None:
    entries = resume_entries([*JOURNAL, Entry(A1, "out1")])
    assert answered_inputs(entries) == {"u1", "out1"}
    assert answered_inputs(resume_entries(JOURNAL)) == frozenset()  # the reply is owed


def test_the_report_counts_kills_and_fails_on_a_call_without_one_output() -> None:
    config = StressConfig(sessions=2, workers=2, kill_every=1.0, journal="sqlite:///j.db")
    resumed = SessionOutcome(0, "keep", turns=4, resumes=2, resume_lost=1)
    bad = SessionOutcome(1, "keep", turns=3, calls_without_one_output=1)
    report = build_report(
        config, [WorkerResult(0, [resumed]), WorkerResult(2, [bad])], KillCounts(3, 5, 10)
    )
    assert (report.workers_killed, report.resumes, report.sessions_resumed) == (3, 5, 1)
    assert report.turns == 17  # the killed workers' 10, and the sessions' own
    assert report.lost_items == 1  # what a resume reported lost
    assert report.calls_without_one_output == 1 and not report.passed
    assert build_report(config, [WorkerResult(0, [resumed])], KillCounts()).errors == 1
