"""The server's refusals through RealtimeSession and the simulator (bytes, codec, shell).

The engine's decisions are tested timeline by timeline in ``test_engine_refusals.py``;
here the same refusals arrive as real frames: a ``server_error`` on a delete and on a
tool output (armed with the simulator's ``Faults.refuse``), an oversized item refused
with ``invalid_event`` and no event id, and a server frame nested too deeply to decode.
Each test asserts what the application is told and that nothing waits for nothing.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from accord.client import events as app
from accord.engine.config import EngineConfig
from accord.items import Message
from accord.session import RealtimeSession
from accord.sim.config import SimConfig
from accord.sim.events import Prebuilt
from accord.sim.model import PlannedCall, PlannedText, ScriptedModel
from accord.sim.server import SimServer
from test_session_support import (
    TIMEOUT,
    WEATHER_TOOL,
    Pump,
    ToolRunner,
    assert_mirror_matches_store,
    settle,
)

TEXT_TOOLS = {"output_modalities": ["text"], "tools": [WEATHER_TOOL]}


async def opened(sim: SimServer) -> RealtimeSession:
    return await RealtimeSession.connect(
        sim.url, api_key="sk-test", session=TEXT_TOOLS, seed=7, wait_timeout=TIMEOUT
    )


async def seeded(session: RealtimeSession, *texts: str) -> None:
    ctx = session.chat_ctx
    for index, text in enumerate(texts):
        ctx.append(Message(id=f"u{index}", role="user", content=text))
    report = await session.update_chat_ctx(ctx)
    assert not report.failed


def weather_then_answer() -> ScriptedModel:
    model = ScriptedModel()
    model.add(PlannedCall("get_weather", '{"city": "Paris"}'))
    model.add(PlannedText("It is 18 degrees in Paris."))
    return model


@pytest.mark.parametrize("refusals", [1, 3])
async def test_a_delete_refused_by_server_errors_is_retried_said_and_lands(refusals: int) -> None:
    """Three refusals in a row too: at a 5 % refusal rate three tries fail together once
    in 8,000 operations, a lost edit every hour of a long session; with five retries
    (EngineConfig.retries) it is one in 60 million."""
    async with SimServer() as sim:
        session = await opened(sim)
        pump = Pump(session)
        try:
            await seeded(session, "first", "second")
            server = sim.sessions[-1]
            server.faults.refuse.extend(["delete"] * refusals)
            ctx = session.chat_ctx
            ctx.remove("u0")
            report = await session.update_chat_ctx(ctx)
            assert report.failed == ()
            await pump.wait_for(app.ServerErrorEvent)
            await settle(session, server)
            assert server.store.ids() == ["u1"]
            refused = pump.of(app.ServerErrorEvent)
            assert [e.code for e in refused] == ["server_error"] * refusals
            said = [(e.operation, e.item_id, e.retried) for e in refused]
            assert said == [("delete", "u0", True)] * refusals
            assert_mirror_matches_store(session, server)
        finally:
            await pump.stop()
            await session.aclose()


async def test_a_tool_output_refused_once_is_sent_again_and_the_model_replies() -> None:
    async with SimServer(model_factory=weather_then_answer) as sim:
        session = await opened(sim)
        runner = ToolRunner(session)
        pump = Pump(session, runner)
        try:
            await seeded(session, "weather in Paris?")
            server = sim.sessions[-1]
            server.faults.refuse.append("create_output")
            await session.generate_reply()
            await pump.wait_for(app.ServerErrorEvent, lambda e: e.operation == "create")
            await settle(session, server)
            texts = [i.text for i in server.store.items() if isinstance(i, Message)]
            assert texts[-1] == "It is 18 degrees in Paris."
            assert pump.of(app.OutputFailed) == []
            assert_mirror_matches_store(session, server)
        finally:
            await pump.stop()
            await session.aclose()


async def test_a_tool_output_the_server_keeps_refusing_is_an_output_failed_event() -> None:
    async with SimServer(model_factory=weather_then_answer) as sim:
        session = await opened(sim)
        runner = ToolRunner(session)
        pump = Pump(session, runner)
        try:
            await seeded(session, "weather in Paris?")
            server = sim.sessions[-1]
            server.faults.refuse.extend(["create_output"] * (EngineConfig().retries + 1))
            await session.generate_reply()
            failed = await pump.wait_for(app.OutputFailed)
            call_id = runner.answered[0]
            assert failed.call_id == call_id
            assert failed.code == "server_error"
            assert failed.output == runner.output
            errors = pump.of(app.ServerErrorEvent)
            assert {e.call_id for e in errors} == {call_id}
            assert [e.retried for e in errors] == [True] * EngineConfig().retries + [False]
            await settle(session, server)
            assert_mirror_matches_store(session, server)
        finally:
            await pump.stop()
            await session.aclose()


async def test_an_oversized_item_fails_at_once_and_the_next_turn_works() -> None:
    config = SimConfig(max_event_bytes=4096)
    async with SimServer(config) as sim:
        session = await opened(sim)
        pump = Pump(session)
        try:
            await seeded(session, "hello")
            ctx = session.chat_ctx
            # Over the server's limit, under what its websocket layer takes (twice that).
            ctx.append(Message(id="big", role="user", content="x" * 6_000))
            started = time.monotonic()
            report = await session.update_chat_ctx(ctx)
            assert time.monotonic() - started < TIMEOUT / 2  # not the operation timeout
            assert report.failed == (("big", "invalid_event"),)
            assert "big" not in session.chat_ctx.ids()
            refused = await pump.wait_for(app.ServerErrorEvent)
            assert (refused.operation, refused.item_id) == ("create", "big")
            ctx = session.chat_ctx
            ctx.append(Message(id="small", role="user", content="still there?"))
            report = await session.update_chat_ctx(ctx)
            assert report.failed == ()
            await asyncio.wait_for(session.generate_reply(), TIMEOUT)
            await settle(session, sim.sessions[-1])
            assert_mirror_matches_store(session, sim.sessions[-1])
        finally:
            await pump.stop()
            await session.aclose()


async def test_a_server_frame_nested_too_deeply_is_ignored_and_the_session_lives_on() -> None:
    async with SimServer() as sim:
        session = await opened(sim)
        pump = Pump(session)
        try:
            await seeded(session, "hello")
            server = sim.sessions[-1]
            deep = '{"type": "response.output_text.delta", "x": ' + "[" * 5000 + "]" * 5000 + "}"
            server.emit(Prebuilt("response.output_text.delta", "event_deep", deep))
            ctx = session.chat_ctx
            ctx.append(Message(id="u1", role="user", content="are you there?"))
            report = await asyncio.wait_for(session.update_chat_ctx(ctx), TIMEOUT)
            assert report.failed == ()
            notice = await pump.wait_for(app.Notice, lambda n: "malformed" in n.text)
            assert "too deep" in notice.text
            assert_mirror_matches_store(session, server)
        finally:
            await pump.stop()
            await session.aclose()


async def test_an_item_over_the_clients_frame_limit_is_never_sent() -> None:
    async with SimServer() as sim:
        session = await RealtimeSession.connect(
            sim.url,
            api_key="sk-test",
            session=TEXT_TOOLS,
            wait_timeout=TIMEOUT,
            max_frame_bytes=2048,
        )
        try:
            ctx = session.chat_ctx
            ctx.append(Message(id="big", role="user", content="x" * 4_000))
            ctx.append(Message(id="ok", role="user", content="fits"))
            report = await session.update_chat_ctx(ctx)
            assert report.failed == (("big", "frame_too_large"),)
            server = sim.sessions[-1]
            await settle(session, server)
            assert server.store.ids() == ["ok"]
            assert len(sim.sessions) == 1  # no connection was lost over it
            assert_mirror_matches_store(session, server)
        finally:
            await session.aclose()
