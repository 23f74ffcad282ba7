"""The recordings' rules on sessions the recordings do not show: a faithful simulator
satisfies RULES.md "on any session a client can drive" (cancels, truncates, deletes,
errors, out-of-band responses, barge-in, tools without descriptions).
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from accord.sim import audio
from accord.sim.config import SimConfig
from accord.sim.model import PlannedText, RuleBasedModel, ScriptedModel
from accord.sim.server import SimServer
from test_sim_support import TEXT_ONLY, Wire, create, user_text
from trace_rules import Trace, check

Scenario = Callable[[Wire], Awaitable[None]]


async def _text(wire: Wire) -> None:
    await wire.send(TEXT_ONLY)
    await wire.until("session.updated")


async def text_cancelled_mid_stream(wire: Wire) -> None:
    """A cancelled text response still closes its part: text.done with what was sent."""
    await _text(wire)
    await wire.send(create(user_text("tell me a long story " * 10, "u1")))
    await wire.send({"type": "response.create"})
    await wire.until("response.output_text.delta")
    await wire.send({"type": "response.cancel"})
    done = (await wire.until("response.done"))[-1]["response"]
    assert done["status"] == "cancelled"
    assert done["output"][0]["status"] == "incomplete"
    await wire.send({"type": "response.cancel"})  # none active now: the real error
    assert (await wire.until("error"))[-1]["error"]["code"] == "response_cancel_not_active"


async def audio_truncated_deleted_and_anchored(wire: Wire) -> None:
    await wire.send(create(user_text("story " * 30, "u1")))
    await wire.send({"type": "response.create"})
    done = (await wire.until("response.done"))[-1]["response"]
    await wire.send(
        {
            "type": "conversation.item.truncate",
            "item_id": done["output"][0]["id"],
            "content_index": 0,
            "audio_end_ms": 500,
        }
    )
    await wire.until("conversation.item.truncated")
    await wire.send({"type": "conversation.item.delete", "item_id": "u1"})
    await wire.until("conversation.item.deleted")
    await wire.send({"type": "conversation.item.delete", "item_id": "nope"})
    await wire.until("error")
    await wire.send(create(user_text("first", "r0"), "root"))
    await wire.acked("r0")
    await wire.send(create(user_text("second", "m1"), "r0"))
    assert (await wire.acked("m1"))["previous_item_id"] == "r0"


async def out_of_band_beside_in_band(wire: Wire) -> None:
    """No rate_limits.updated while the other response is still streaming (R15)."""
    await _text(wire)
    await wire.send(create(user_text("hello " * 40, "u1")))
    await wire.send(
        {
            "type": "response.create",
            "response": {
                "conversation": "none",
                "metadata": {"k": "v"},
                "input": [{"type": "item_reference", "id": "u1"}],
            },
        }
    )
    await wire.send({"type": "response.create"})
    await wire.until("response.done")
    await wire.until("response.done")
    await wire.send({"type": "response.create"})
    await wire.send({"type": "response.create", "event_id": "busy"})
    await wire.error_for("busy")
    await wire.until("response.done")
    oob = [
        e["response"]
        for e in wire.events
        if e["type"] == "response.done" and e["response"]["metadata"] == {"k": "v"}
    ]
    assert oob[0]["conversation_id"] is None  # present, and null


async def barge_in_gets_its_own_response(wire: Wire) -> None:
    """Speech during a spoken reply cancels it, and the new turn is answered after it."""
    await wire.send(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "audio": {"input": {"transcription": {"model": "whisper-1"}}},
            },
        }
    )
    await wire.until("session.updated")
    await _speak(wire, audio.silence(300) + audio.synthesize("tell me a story please"))
    await wire.until("response.output_audio.delta")
    await _speak(wire, audio.synthesize("stop"))
    first = await wire.until("response.done")
    assert first[-1]["response"]["status"] == "cancelled"
    second = (await wire.until("response.done"))[-1]["response"]
    assert second["status"] == "completed"
    assert "stop" in second["output"][0]["content"][0]["transcript"]


async def _speak(wire: Wire, pcm: bytes) -> None:
    chunk = 100 * audio.BYTES_PER_MS
    speech = pcm + audio.silence(800)
    for at in range(0, len(speech), chunk):
        payload = base64.b64encode(speech[at : at + chunk]).decode()
        await wire.send({"type": "input_audio_buffer.append", "audio": payload})


async def tool_without_description(wire: Wire) -> None:
    """The session echoes tools the way the real server re-serializes them (recorded key
    set: type, name, description, parameters), whatever the client left out."""
    tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
    await wire.send(
        {"type": "session.update", "session": {**TEXT_ONLY["session"], "tools": [tool]}}
    )
    echoed = (await wire.until("session.updated"))[-1]["session"]["tools"][0]
    assert echoed == {**tool, "description": None}
    await wire.send(create(user_text("weather in Oslo?")))
    await wire.send({"type": "response.create"})
    done = (await wire.until("response.done"))[-1]["response"]
    call = done["output"][0]
    output = {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"}
    await wire.send(create(output))
    await wire.send({"type": "response.create"})
    await wire.until("response.done")


async def in_band_ends_while_out_of_band_streams(wire: Wire) -> None:
    """The in-band response is short, the out-of-band one long: no rate_limits.updated
    until both are done (R15)."""
    await _text(wire)
    await wire.send(create(user_text("hi", "u1")))
    await wire.send(
        {"type": "response.create", "response": {"conversation": "none", "metadata": {"k": "v"}}}
    )
    await wire.send({"type": "response.create"})
    await wire.until("response.done")
    await wire.until("response.done")
    first_done = next(e for e in wire.events if e["type"] == "response.done")
    assert first_done["response"]["conversation_id"] is not None  # the in-band one ended first


def long_then_short() -> ScriptedModel:
    model = ScriptedModel()
    model.add(PlannedText("word " * 60))
    model.add(PlannedText("short"))
    return model


SCENARIOS: dict[str, tuple[Scenario, SimConfig]] = {
    "in_band_ends_while_out_of_band_streams": (
        in_band_ends_while_out_of_band_streams,
        SimConfig(stream_pause_ms=2),
    ),
    "text_cancelled_mid_stream": (text_cancelled_mid_stream, SimConfig(stream_pause_ms=5)),
    "audio_truncated_deleted_and_anchored": (audio_truncated_deleted_and_anchored, SimConfig()),
    "out_of_band_beside_in_band": (out_of_band_beside_in_band, SimConfig(stream_pause_ms=1)),
    "barge_in_gets_its_own_response": (
        barge_in_gets_its_own_response,
        SimConfig(stream_pause_ms=100),
    ),
    "tool_without_description": (tool_without_description, SimConfig()),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_the_rules_hold_on_a_session_no_recording_shows(name: str) -> None:
    scenario, config = SCENARIOS[name]
    factory = (
        long_then_short if name == "in_band_ends_while_out_of_band_streams" else RuleBasedModel
    )
    async with SimServer(config, model_factory=factory) as sim:
        wire = await Wire.open(sim.url)
        await wire.until("session.created")
        await scenario(wire)
        await wire.quiet()
        sent: list[dict[str, Any]] = list(wire.sent)
        found = check(Trace(wire.events, sent, name=name))
        assert not found, "\n".join(map(str, found))
        await wire.close()
