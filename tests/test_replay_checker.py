"""`accord replay` judges a trace with the checker: the server's conversation is rebuilt
from its frames and the replay's decisions are logged. A naive trace that deletes a
function call in flight is caught; accord's own trace of the same timeline is clean."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from accord.client import events as se
from accord.items import Message
from accord.session import RealtimeSession, SessionOptions
from accord.sim.config import SimConfig
from accord.sim.model import PlannedCall, ScriptedModel
from accord.sim.server import SimServer
from accord.verify.checker import Invariant
from accord.verify.replay import replay
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
