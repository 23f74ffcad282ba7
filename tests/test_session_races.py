"""update_chat_ctx racing the server, through RealtimeSession and the simulator.

Each test takes a snapshot of the conversation (its base), lets the server add an item
the snapshot never saw, and pushes the snapshot minus its oldest message, as a context
policy would. The end state, at quiet: the pushed removal applied, the raced item kept,
the mirror equal to the server, and the checker's invariants (audited from the session
core's decisions) unbroken.

- R1: a function call in flight (its arguments still streaming, then its tool running).
- R3: an assistant message still streaming.
- R11: a voice turn (server VAD, transcription on) whose transcript arrives late.
- R14: a tool follow-up against a response the server started on its own (after the
  output) or through VAD (the user spoke as the output landed).
"""

from __future__ import annotations

import asyncio
from typing import Any

from accord.client import events as app
from accord.items import FunctionCall, FunctionCallOutput, Message
from accord.session import RealtimeSession
from accord.sim import audio
from accord.sim.config import Quirks, SimConfig
from accord.sim.model import PlannedCall, PlannedText, ScriptedModel
from accord.sim.server import SimServer
from accord.sim.session import SimSession
from accord.verify.audit import Audit
from test_session_support import (
    TIMEOUT,
    WEATHER_TOOL,
    Pump,
    assert_mirror_matches_store,
    settle,
    shapes,
)

TEXT_TOOLS = {"output_modalities": ["text"], "tools": [WEATHER_TOOL]}
VOICE_IN = {
    "output_modalities": ["text"],
    "tools": [WEATHER_TOOL],
    "audio": {
        "input": {
            "transcription": {"model": "whisper-1"},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 200},
        }
    },
}


async def opened(sim: SimServer, session_config: dict[str, Any], seed: int) -> RealtimeSession:
    return await RealtimeSession.connect(
        sim.url, api_key="sk-test", session=session_config, seed=seed, wait_timeout=TIMEOUT
    )


async def seeded(session: RealtimeSession, *texts: str) -> None:
    """Typed user turns u0, u1, ... pushed and acknowledged."""
    ctx = session.chat_ctx
    for index, text in enumerate(texts):
        ctx.append(Message(id=f"u{index}", role="user", content=text))
    report = await session.update_chat_ctx(ctx)
    assert not report.failed


def audited(session: RealtimeSession, sim: SimServer) -> Audit:
    audit = Audit(lambda: sim.sessions[-1].store)
    audit.attach(session.core)
    return audit


async def until(condition: Any, what: str) -> None:
    async def loop() -> None:
        while not condition():
            await asyncio.sleep(0.002)

    try:
        await asyncio.wait_for(loop(), TIMEOUT)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def busy_errors(pump: Pump) -> int:
    return sum(
        1
        for e in pump.of(app.ServerErrorEvent)
        if e.code == "conversation_already_has_active_response"
    )


def sent_types(sim_session: SimSession) -> list[str]:
    return [e.type for e in sim_session.sent]


async def converged(
    session: RealtimeSession, sim_session: SimSession, audit: Audit, *, audio_items: bool = False
) -> None:
    """At quiet: mirror == server, and no invariant broken."""
    await settle(session, sim_session)
    assert_mirror_matches_store(session, sim_session)
    # Spoken items: the store keeps its own audio_ms; compare those on shape only.
    mirror = None if audio_items else session.core.engine.mirror_items()
    assert audit.violations(mirror) == []  # type: ignore[arg-type]


# -- R1 ----------------------------------------------------------------------------------


async def test_r1_push_while_a_function_call_is_in_flight() -> None:
    model = ScriptedModel()
    model.add(PlannedCall("get_weather", '{"city": "Paris, the one in France, not Texas"}'))
    model.add(PlannedText("It is 18 degrees in Paris."))
    config = SimConfig(stream_pause_ms=25)
    async with SimServer(config, model_factory=lambda: model) as sim:
        session = await opened(sim, TEXT_TOOLS, seed=11)
        async with session:
            audit = audited(session, sim)
            pump = Pump(session)
            await seeded(session, "hello", "what's the weather in Paris?")
            snapshot = session.chat_ctx  # the agent's context: it will never see fc1 here
            await session.generate_reply()

            added = await pump.wait_for(
                app.RemoteItemAdded, lambda e: isinstance(e.item, FunctionCall)
            )
            fc1 = added.item
            sim_session = sim.sessions[0]
            assert sim_session.store.is_in_flight(fc1.id)  # its arguments still stream
            report = await session.update_chat_ctx(snapshot.filter(lambda i: i.id != "u0"))
            assert len(report.sent) == 1 and not report.failed  # delete(u0), nothing else
            assert "u0" not in sim_session.store.ids() and fc1.id in sim_session.store.ids()

            ready = await pump.wait_for(app.FunctionCallReady)
            session.tool_started(ready.call.call_id)
            # The tool runs; the same stale snapshot is pushed again: nothing more goes.
            again = await session.update_chat_ctx(snapshot.filter(lambda i: i.id != "u0"))
            assert again.sent == ()
            session.tool_finished(ready.call.call_id, '{"temp": 18}')
            await converged(session, sim_session, audit)

            items = sim_session.store.items()
            assert [type(i).__name__ for i in items] == [
                "Message",
                "FunctionCall",
                "FunctionCallOutput",
                "Message",
            ], shapes(items)
            assert items[0].id == "u1" and items[1].id == fc1.id
            assert isinstance(items[2], FunctionCallOutput) and items[2].call_id == fc1.call_id
            await pump.stop()


# -- R3 ----------------------------------------------------------------------------------


async def test_r3_push_while_an_assistant_message_streams() -> None:
    long_text = "The answer streams slowly, twelve characters at a time, " * 3
    model = ScriptedModel()
    model.add(PlannedText(long_text))
    async with SimServer(SimConfig(stream_pause_ms=20), model_factory=lambda: model) as sim:
        session = await opened(sim, TEXT_TOOLS, seed=12)
        async with session:
            audit = audited(session, sim)
            pump = Pump(session)
            await seeded(session, "hello", "tell me something long")
            snapshot = session.chat_ctx
            generation = await session.generate_reply()
            sim_session = sim.sessions[0]
            added = await pump.wait_for(
                app.RemoteItemAdded,
                lambda e: isinstance(e.item, Message) and e.item.role == "assistant",
            )
            await until(
                lambda: sent_types(sim_session).count("response.output_text.delta") >= 2,
                "two text deltas",
            )
            assert generation.status is None  # still streaming when the push goes
            report = await session.update_chat_ctx(snapshot.filter(lambda i: i.id != "u0"))
            assert len(report.sent) == 1 and not report.failed
            assert await asyncio.wait_for(generation.wait(), TIMEOUT) == "completed"
            await converged(session, sim_session, audit)

            assert sim_session.store.ids() == ["u1", added.item.id]
            answer = sim_session.store.get(added.item.id)
            assert isinstance(answer, Message) and answer.text == long_text
            await pump.stop()


# -- R11 ---------------------------------------------------------------------------------


async def test_r11_push_before_a_voice_turns_transcript_arrives() -> None:
    model = ScriptedModel()
    model.add(PlannedText("Sure, a table for two."))
    config = SimConfig(transcription_delay_ms=400)
    async with SimServer(config, model_factory=lambda: model) as sim:
        session = await opened(sim, VOICE_IN, seed=13)
        async with session:
            audit = audited(session, sim)
            pump = Pump(session)
            await seeded(session, "hello")
            snapshot = session.chat_ctx  # before the user speaks
            session.push_audio(audio.synthesize("book a table") + audio.silence(600))

            spoken = await pump.wait_for(
                app.RemoteItemAdded,
                lambda e: isinstance(e.item, Message) and e.item.role == "user" and e.item.audio,
            )
            u5 = spoken.item
            assert u5.content is None  # no transcript yet
            report = await session.update_chat_ctx(snapshot.filter(lambda i: i.id != "u0"))
            assert not report.failed
            sim_session = sim.sessions[0]
            assert "u0" not in sim_session.store.ids() and u5.id in sim_session.store.ids()
            assert not pump.of(app.InputTranscriptCompleted)  # the push beat the transcript

            done = await pump.wait_for(app.InputTranscriptCompleted)
            assert (done.item_id, done.transcript) == (u5.id, "book a table")
            await converged(session, sim_session, audit, audio_items=True)

            items = sim_session.store.items()
            assert items[0].id == u5.id and len(items) == 2
            stored = items[0]
            assert isinstance(stored, Message) and stored.text == "book a table"
            mirrored = session.core.engine.mirror.get(u5.id)
            assert isinstance(mirrored, Message) and mirrored.text == "book a table"
            assert isinstance(items[1], Message) and items[1].role == "assistant"
            await pump.stop()


# -- R14 ---------------------------------------------------------------------------------


async def _tool_turn_with_racing_response(
    sim: SimServer, session: RealtimeSession, *, speak_with_output: bool
) -> tuple[SimSession, Audit, Pump, str]:
    audit = audited(session, sim)
    pump = Pump(session)
    await seeded(session, "hello", "what's the weather in Paris?")
    snapshot = session.chat_ctx
    await session.generate_reply()
    ready = await pump.wait_for(app.FunctionCallReady)
    session.tool_started(ready.call.call_id)
    report = await session.update_chat_ctx(snapshot.filter(lambda i: i.id != "u0"))
    assert len(report.sent) == 1 and not report.failed
    session.tool_finished(ready.call.call_id, '{"temp": 18}')
    if speak_with_output:
        # The user speaks as the output goes up: the server's VAD starts a response
        # before the engine's follow-up (sent on the output's ack) can arrive.
        session.push_audio(audio.synthesize("and tomorrow") + audio.silence(600))
    return sim.sessions[0], audit, pump, ready.call.call_id


async def test_r14_follow_up_against_a_response_the_server_started_itself() -> None:
    model = ScriptedModel()
    model.add(PlannedCall("get_weather", '{"city": "Paris"}'))
    model.add(PlannedText("It is 18 degrees."))
    # The server's own response streams for a while, as a real one does: the engine's
    # follow-up (sent on the output's ack, before the client can know) meets it running.
    # (Were it over before the follow-up arrived, the server would accept that too: a
    # second answer no client can prevent.)
    config = SimConfig(stream_pause_ms=30, quirks=Quirks(auto_response_after_output=True))
    async with SimServer(config, model_factory=lambda: model) as sim:
        session = await opened(sim, TEXT_TOOLS, seed=14)
        async with session:
            sim_session, audit, pump, _call_id = await _tool_turn_with_racing_response(
                sim, session, speak_with_output=False
            )
            await converged(session, sim_session, audit)
            types = [type(i).__name__ for i in sim_session.store.items()]
            assert types == ["Message", "FunctionCall", "FunctionCallOutput", "Message"]
            assert sim_session.store.ids()[0] == "u1"
            assert busy_errors(pump) == 1  # the engine's follow-up was refused, and dropped
            assert sent_types(sim_session).count("response.created") == 2  # answered once
            await pump.stop()


async def test_r14_follow_up_against_a_vad_response() -> None:
    model = ScriptedModel()
    model.add(PlannedCall("get_weather", '{"city": "Paris"}'))
    model.add(PlannedText("18 degrees today, and tomorrow too."))
    # The VAD response streams for a while (see the test above).
    async with SimServer(SimConfig(stream_pause_ms=30), model_factory=lambda: model) as sim:
        session = await opened(sim, VOICE_IN, seed=15)
        async with session:
            sim_session, audit, pump, _call_id = await _tool_turn_with_racing_response(
                sim, session, speak_with_output=True
            )
            await pump.wait_for(app.InputTranscriptCompleted)
            await converged(session, sim_session, audit, audio_items=True)
            items = sim_session.store.items()
            kinds = [(type(i).__name__, i.role if isinstance(i, Message) else "") for i in items]
            assert kinds == [
                ("Message", "user"),
                ("FunctionCall", ""),
                ("FunctionCallOutput", ""),
                ("Message", "user"),  # the spoken turn
                ("Message", "assistant"),  # one answer, which saw the output
            ], shapes(items)
            assert items[0].id == "u1" and items[3].text == "and tomorrow"
            assert sent_types(sim_session).count("response.created") == 2
            assert busy_errors(pump) == 1  # the follow-up met the VAD response: dropped
            await pump.stop()
