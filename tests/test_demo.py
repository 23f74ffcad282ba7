"""The main job: `accord demo` converges on 20 seeds with the races really happening, and
the naive strategy desyncs on named seeds."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

from typer.testing import CliRunner

from accord.cli.main import app
from accord.demo.scenario import DemoConfig, DemoResult, run_demo, user_turns
from accord.verify.checker import Invariant

SEEDS = range(20)
NAIVE_SEEDS = (0, 1, 2)


def run_many(configs: list[DemoConfig]) -> list[DemoResult]:
    """Each run has its own simulator and session; they share one event loop."""

    async def all_of() -> list[DemoResult]:
        return list(await asyncio.gather(*(run_demo(c) for c in configs)))

    return asyncio.run(all_of())


def test_twenty_seeds_converge_while_the_races_happen() -> None:
    results = run_many([DemoConfig(turns=8, seed=s, latency_ms=5, jitter_ms=2) for s in SEEDS])
    for seed, result in zip(SEEDS, results, strict=True):
        assert result.desyncs == 0, (seed, result.violations, result.errors)
        assert result.mirror_matches, seed
        assert result.stats.pushes_during_calls >= 1, seed  # a push raced a call in flight
        assert result.stats.deferred >= 1, seed  # and a delete had to wait
        assert result.ops_sent == result.resolved, seed


def test_the_naive_strategy_desyncs_on_named_seeds() -> None:
    results = run_many(
        [
            DemoConfig(
                turns=12,  # 8 left a seed clean in 1 of 9 runs: the first desync comes late
                seed=s,
                latency_ms=5,
                jitter_ms=2,
                strategy="naive",
                turn_timeout=1.5,
                stop_at_first_desync=False,
            )
            for s in NAIVE_SEEDS
        ]
    )
    for seed, result in zip(NAIVE_SEEDS, results, strict=True):
        assert result.desyncs > 0, seed
    # The naive diff loses items the writer never saw (a message re-created behind a
    # summary another policy deleted, a tool result pushed away by a stale snapshot);
    # which one, and which server error follows, depends on timing.
    lost = [v for r in results for v in r.violations if v.invariant is Invariant.NO_LOST_ITEM]
    assert lost, [r.violations for r in results]


def test_the_naive_demos_first_desync_is_a_call_deleted_while_its_tool_ran() -> None:
    """The story the demo exists to tell (race R1 through R2's stale summary): its first
    desync was a lost user message, whatever the seed, and its page showed no lost call.
    The summarizer now answers as late as a model would, while the user speaks on."""
    results = run_many([DemoConfig(strategy="naive", seed=s) for s in NAIVE_SEEDS])
    for seed, result in zip(NAIVE_SEEDS, results, strict=True):
        assert result.story is not None, seed
        assert result.story.title.startswith("first desync: the call "), (seed, result.story)
    # Whether the stale push lands while the tool still runs (so the server then refuses
    # its output) or just after it returned depends on timing: about 1 run in 10 of a
    # seed missed it under load. Across the named seeds it shows.
    r1 = [
        seed
        for seed, result in zip(NAIVE_SEEDS, results, strict=True)
        if any("while its tool was running" in v.detail for v in result.violations)
        and any("invalid_tool_call_id" in e for e in result.errors)
    ]
    assert r1, [(r.violations, r.errors) for r in results]


def test_accord_demo_command_exits_zero_and_reports() -> None:
    result = CliRunner().invoke(app, ["demo", "--turns", "4", "--latency-ms", "5"])
    assert result.exit_code == 0, result.output
    assert "sync report" in result.output and "0 desyncs" in result.output


def test_a_recorded_demo_replays_byte_identically(tmp_path: Path) -> None:
    trace = tmp_path / "demo.jsonl"
    runner = CliRunner()
    result = runner.invoke(
        app, ["demo", "--turns", "5", "--latency-ms", "5", "--record", str(trace)]
    )
    assert result.exit_code == 0, result.output
    replayed = runner.invoke(app, ["replay", str(trace)])
    assert replayed.exit_code == 0, replayed.output
    assert "byte-identical" in replayed.output


# -- the naive demo tells the story of its first desync, quickly -------------------------


def test_the_naive_demo_ends_quickly_with_exit_1_and_names_the_lost_item() -> None:
    """It ran for 6 minutes (34 turns waiting out 30 s timeouts, labelled server errors)
    and printed violations with an empty subject."""
    started = time.monotonic()
    result = CliRunner().invoke(app, ["demo", "--strategy", "naive"])
    elapsed = time.monotonic() - started
    assert result.exit_code == 1, result.output
    assert elapsed < 30, elapsed
    out = " ".join(result.output.split())  # rich wraps long lines
    story = re.search(r"first desync: (.*?) (?:was deleted|was anchored|:)", out)
    assert story, out
    lost = re.search(r"\((?:call_\w+, item )?(\w+)\) was deleted", out)
    assert lost, out
    item = lost.group(1)
    assert f"delete {item}" in out  # the operation that removed it
    assert "conversation.item.deleted" in out or "error " in out  # what the server said
    assert "cost: " in out
    assert f"[{item}]" in out  # violation lines name their subject
    assert "server error: turn" not in out  # a client timeout is not a server error


def test_the_demo_reads_as_a_conversation() -> None:
    """Typed turns never showed the user's line (6 of 20 shown, some after the reply),
    and the scripted model booked for 1 person at 'please book a table for 8 at 20:00'."""
    lines: list[str] = []
    result = asyncio.run(run_demo(DemoConfig(turns=12, latency_ms=5, jitter_ms=2), lines.append))
    assert result.desyncs == 0
    said = [text for text, _ in user_turns(12, 0)]
    users = [line.split("user: ", 1)[1] for line in lines if line.lstrip().startswith("user: ")]
    assert users == said
    # every reply comes after the line of the turn it answers
    last_user = ""
    for line in lines:
        if line.lstrip().startswith("user: "):
            last_user = line.split("user: ", 1)[1]
        echo = re.search(r"assistant: You said: (.*)", line)
        if echo:
            assert echo.group(1) == last_user, (line, last_user)
        weather = re.search(r"assistant: Done\. (\w+): 18C", line)
        if weather:
            assert weather.group(1) in last_user, (line, last_user)
    for line in lines:
        booked = re.search(r'"people": (\d+), "time": "([^"]+)"', line)
        if booked:
            assert booked.group(2) == "20:00", line
            assert 2 <= int(booked.group(1)) <= 8, line
