"""A full tool turn through RealtimeSession against the simulator, whole and with the
connection dropped after every single server event of it (docs/architecture.md, invariant 7).

The turn: the user asks for the weather, the model calls ``get_weather``, the
application reports ``tool_started`` / ``tool_finished``, the session creates the output
right after its call and asks for exactly one follow-up, which answers.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest

from accord.client import events as app
from accord.client.errors import ConnectionLost
from accord.items import FunctionCall, FunctionCallOutput, Message
from accord.session import RealtimeSession
from accord.sim.config import SimConfig
from accord.sim.server import SimServer
from accord.sim.session import SimSession
from test_session_support import (
    TEXT_TOOLS,
    TIMEOUT,
    WEATHER_TOOL,
    DropWatch,
    Pump,
    Tap,
    ToolRunner,
    assert_mirror_matches_store,
    settle,
    shapes,
    tap,
)

QUESTION = "what's the weather in Paris?"
OUTPUT = '{"temp": 18}'


def kinds(sim_session: SimSession) -> list[str]:
    """The store as item kinds: user, call, output, assistant."""
    out: list[str] = []
    for item in sim_session.store.items():
        if isinstance(item, Message):
            out.append(item.role)
        elif isinstance(item, FunctionCall):
            out.append("call")
        else:
            out.append("output")
    return out


def frames(record: Tap) -> list[dict[str, Any]]:
    return [json.loads(f) for f in record.sent]


async def ask(session: RealtimeSession, text: str = QUESTION) -> None:
    ctx = session.chat_ctx
    ctx.append(Message(id="u1", role="user", content=text))
    await session.update_chat_ctx(ctx)


# -- 1. a whole tool turn ----------------------------------------------------------------


@pytest.mark.parametrize("modality", ["text", "audio"])
async def test_full_tool_turn_output_after_its_call_and_one_follow_up(modality: str) -> None:
    record = Tap()
    config = {"output_modalities": [modality], "tools": [WEATHER_TOOL]}
    async with (
        SimServer(SimConfig()) as sim,
        RealtimeSession.connect(
            sim.url,
            api_key="sk-test",
            session=config,
            seed=1,
            wait_timeout=TIMEOUT,
            transport_factory=tap(record),
        ) as session,
    ):
        runner = ToolRunner(session, OUTPUT)
        pump = Pump(session, runner)
        await ask(session)
        first = await session.generate_reply()
        ready = await pump.wait_for(app.FunctionCallReady)
        follow_up = await pump.wait_for(
            app.GenerationStarted, lambda e: e.generation.response_id != first.response_id
        )
        assert await first.wait() == "completed"
        assert await follow_up.generation.wait() == "completed"
        sim_session = sim.sessions[0]
        await settle(session, sim_session)

        call = ready.call
        assert runner.answered == [call.call_id]
        assert kinds(sim_session) == ["user", "call", "output", "assistant"]
        _u1, stored_call, output, answer = sim_session.store.items()
        assert stored_call == call and ready.response_id == first.response_id
        assert isinstance(output, FunctionCallOutput)
        assert (output.call_id, output.output) == (call.call_id, OUTPUT)
        assert isinstance(answer, Message) and answer.text == f"Done. {OUTPUT}"

        sent = frames(record)
        creates = [f for f in sent if f["type"] == "conversation.item.create"]
        assert [c["item"]["id"] for c in creates] == ["u1", output.id]
        assert creates[1]["previous_item_id"] == call.id  # the output right after its call
        responses = [i for i, f in enumerate(sent) if f["type"] == "response.create"]
        output_at = sent.index(creates[1])
        assert len(responses) == 2  # the reply asked for, and one follow-up
        assert responses[0] < output_at < responses[1]
        assert follow_up.generation.requested_by is not None  # the engine asked for it

        assert_mirror_matches_store(session, sim_session)
        if modality == "audio":
            mirror_answer = session.core.engine.mirror_items()[-1]
            assert isinstance(mirror_answer, Message) and mirror_answer.audio
            assert answer.audio and answer.audio_ms is not None
            # The client counts the audio it received; the server holds ~85 ms less.
            received_ms = session.core.audio_received[answer.id] // 48
            assert mirror_answer.audio_ms == received_ms
            assert 0 <= received_ms - answer.audio_ms <= 85
        await pump.stop()


# -- 4. a drop after every event of the turn ---------------------------------------------


async def _count_turn_events() -> int:
    """How many server events the undisturbed tool turn takes, first session.created to
    the follow-up's last event."""
    async with (
        SimServer(SimConfig()) as sim,
        RealtimeSession.connect(
            sim.url, api_key="sk-test", session=TEXT_TOOLS, seed=7, wait_timeout=TIMEOUT
        ) as session,
    ):
        pump = Pump(session, ToolRunner(session, OUTPUT))
        await ask(session)
        await session.generate_reply()
        await pump.wait_for(app.FunctionCallReady)
        await settle(session, sim.sessions[0])
        assert kinds(sim.sessions[0]) == ["user", "call", "output", "assistant"]
        await pump.stop()
        return len(sim.sessions[0].sent)


TURN_EVENTS = 28  # checked by test_the_turn_takes_the_events_the_sweep_covers


async def test_the_turn_takes_the_events_the_sweep_covers() -> None:
    assert await _count_turn_events() == TURN_EVENTS


@pytest.mark.parametrize("k", range(1, TURN_EVENTS))
async def test_drop_after_event_k_of_a_tool_turn_restores_then_completes(k: int) -> None:
    armed: list[SimSession] = []

    def arm(sim_session: SimSession) -> None:
        if not armed:  # only the first connection drops
            sim_session.faults.close_after_events = k
            armed.append(sim_session)

    sim = SimServer(SimConfig(), on_session=arm)
    async with (
        sim,
        RealtimeSession.connect(
            sim.url,
            api_key="sk-test",
            session=TEXT_TOOLS,
            seed=k,
            backoff_initial=0.05,
            wait_timeout=TIMEOUT,
        ) as session,
    ):
        watch = DropWatch(session, sim)
        runner = ToolRunner(session, OUTPUT)
        pump = Pump(session, watch, runner)
        await ask(session)  # across the drop, it resolves once the restore is acknowledged
        with contextlib.suppress(ConnectionLost):
            # Pending at the drop, the request fails at once (it never hangs).
            await session.generate_reply()
        await pump.wait_for(app.Reconnected)

        # Invariant 7: the new store right after the restore == N(projected at the drop).
        assert len(sim.sessions) == 2
        assert watch.problems() == []
        assert watch.reconnected[0].lost == ()  # a text turn loses nothing
        assert watch.disconnected[0].will_reconnect

        # Then the turn completes. A call still streaming at the drop (k <= 12) was
        # dropped with its response (the application saw its generation fail): the
        # application asks again. From the call's conversation.item.done (13) to the
        # follow-up's content_part.done (26) the follow-up was due, requested or streaming
        # at the drop: the restored conversation ends with the output and the engine asks
        # for the follow-up itself, once.
        new = sim.sessions[1]
        await settle(session, new)
        if not any(isinstance(i, FunctionCall) for i in new.store.items()):
            await session.generate_reply()
            await pump.wait_for(app.FunctionCallReady, lambda e: e.call.id in new.store.ids())
            await settle(session, new)
        assert kinds(new) == ["user", "call", "output", "assistant"], shapes(new.store.items())
        assert_mirror_matches_store(session, new)
        await pump.stop()
