"""`accord replay` judges a trace with the checker: the server's conversation is rebuilt
from its frames and the replay's decisions are logged. A naive trace that deletes a
function call in flight is caught; accord's own trace of the same timeline is clean."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accord.cli.main import app
from accord.client import events as se
from accord.items import Message
from accord.session import RealtimeSession, SessionOptions
from accord.sim.config import SimConfig
from accord.sim.model import PlannedCall, ScriptedModel
from accord.sim.server import SimServer
from accord.verify.checker import Invariant
from accord.verify.replay import TraceError, replay
from accord.verify.strategies import strategy_named


async def record_r1(strategy: str, trace: Path) -> None:
    """R1 over the wire: a call streams while a trim of the oldest message is pushed."""
    model = ScriptedModel()
    model.add(PlannedCall("lookup", '{"query": "a long enough argument string to stream"}'))
    config = SimConfig(stream_pause_ms=20, delta_chars=4)
    async with SimServer(config, model_factory=lambda: model) as sim:
        options = SessionOptions(seed=3, strategy=strategy_named(strategy), record=trace)
        async with RealtimeSession.connect(
            sim.url, api_key="sk-test", options=options, session={"output_modalities": ["text"]}
        ) as s:
            ctx = s.chat_ctx
            ctx.append(Message(id="u0", role="user", content="hello"))
            ctx.append(Message(id="u1", role="user", content="look it up"))
            await s.update_chat_ctx(ctx)
            for _ in range(200):  # the naive strategy reports before the acks arrive
                if "u1" in s.chat_ctx:
                    break
                await asyncio.sleep(0.01)
            agent_view = s.chat_ctx  # before the call exists
            await s.generate_reply()
            async for event in s.events():  # wait until the call is on the client
                if isinstance(event, se.RemoteItemAdded) and event.item.id != "u1":
                    break
            trimmed = agent_view.copy()
            trimmed.remove("u0")
            await asyncio.wait_for(s.update_chat_ctx(trimmed), 10)
            await asyncio.sleep(0.5)


@pytest.mark.parametrize(("strategy", "caught"), [("accord", False), ("naive", True)])
async def test_replay_judges_the_trace(tmp_path: Path, strategy: str, caught: bool) -> None:
    trace = tmp_path / f"{strategy}.jsonl"
    await record_r1(strategy, trace)
    result = replay(trace)
    assert result.identical
    lost = [v for v in result.violations if v.invariant is Invariant.NO_LOST_ITEM]
    assert bool(lost) is caught, result.violations


# -- a trace must be whole, and its verdict reproduced -----------------------------------


def _lines(trace: Path) -> list[str]:
    return trace.read_text(encoding="utf-8").splitlines(keepends=True)


async def test_a_truncated_or_header_only_trace_is_an_error(tmp_path: Path) -> None:
    """A header-only or half-length trace "replayed" (frames recorded: 0)."""
    trace = tmp_path / "whole.jsonl"
    await record_r1("accord", trace)
    lines = _lines(trace)
    assert '"kind": "end"' in lines[-1]
    header_only = tmp_path / "header.jsonl"
    header_only.write_text(lines[0], encoding="utf-8")
    half = tmp_path / "half.jsonl"
    half.write_text("".join(lines[: len(lines) // 2]), encoding="utf-8")
    gap = tmp_path / "gap.jsonl"
    gap.write_text("".join(lines[:5] + lines[6:]), encoding="utf-8")  # a record gone
    for broken, why in ((header_only, "truncated"), (half, "truncated"), (gap, "missing")):
        with pytest.raises(TraceError, match=why):
            replay(broken)
        ran = CliRunner().invoke(app, ["replay", str(broken)])
        assert ran.exit_code == 2, ran.output
    assert CliRunner().invoke(app, ["replay", str(trace)]).exit_code == 0


def test_a_recorded_verdict_must_be_reproduced(tmp_path: Path) -> None:
    """A naive demo trace whose run reported desyncs replayed as "checker: 0 violations"."""
    naive = tmp_path / "naive.jsonl"
    ran = CliRunner().invoke(
        app, ["demo", "--strategy", "naive", "--turns", "6", "--record", str(naive)]
    )
    assert ran.exit_code == 1, ran.output
    result = replay(naive)
    assert result.recorded_desyncs is not None and result.recorded_desyncs > 0
    assert result.desynced and result.verdict_reproduced
    assert CliRunner().invoke(app, ["replay", str(naive)]).exit_code == 1

    # A trace whose recorded verdict says "desynced" while the run replays clean.
    clean = tmp_path / "clean.jsonl"
    assert CliRunner().invoke(app, ["demo", "--turns", "4", "--record", str(clean)]).exit_code == 0
    lines = _lines(clean)
    verdict_at = next(i for i, line in enumerate(lines) if '"kind": "verdict"' in line)
    record = json.loads(lines[verdict_at])
    assert record["desyncs"] == 0 and record["server"]
    record["desyncs"] = 14
    lines[verdict_at] = json.dumps(record) + "\n"
    forged = tmp_path / "forged.jsonl"
    forged.write_text("".join(lines), encoding="utf-8")
    result = replay(forged)
    assert not result.desynced and not result.verdict_reproduced
    replayed = CliRunner().invoke(app, ["replay", str(forged)])
    assert replayed.exit_code == 1 and "does not reproduce" in replayed.output
