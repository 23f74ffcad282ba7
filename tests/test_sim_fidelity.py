"""Where the simulator differed from the real server: each difference as a test.

Failures inside the server answer with the real ``server_error`` instead of silence; the
``response`` object carries ``audio``; ``conversation.item.done`` repeats ``.added``'s
``previous_item_id`` but for the first-item quirk (R11); transcription sends deltas and
one ``.completed``, never ``.failed`` for audio it cannot read; a frame nested too deeply
is an ``invalid_event``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accord.sim.config import SimConfig
from accord.sim.model import PlannedText, ResponseRequest, ScriptedModel
from accord.sim.server import SimServer
from test_sim_support import TEXT_ONLY, Wire, create, user_text


async def opened(sim: SimServer, *setup: dict[str, Any]) -> Wire:
    wire = await Wire.open(sim.url)
    await wire.until("session.created")
    for event in setup:
        await wire.send(event)
        await wire.until("session.updated")
    return wire


# -- a failure inside a response is answered, not swallowed ------------------------------


@dataclass
class BrokenModel:
    """Fails its first plan the way a bug would; answers normally after that."""

    calls: int = 0

    def plan(self, request: ResponseRequest) -> list[Any]:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("the model broke")
        if self.calls == 2:
            return [object()]  # not a planned output: fails inside the response task
        return [PlannedText("fine again")]


def _failed(events: list[dict[str, Any]], event_id: str) -> dict[str, Any]:
    errors = [e["error"] for e in events if e["type"] == "error"]
    assert [(e["type"], e["code"], e["event_id"]) for e in errors] == [
        ("server_error", "server_error", event_id)
    ], errors
    assert "Please include the session ID sess_" in errors[0]["message"]
    done = events[-1]["response"]
    assert done["status"] == "failed", done
    assert done["status_details"]["type"] == "failed"
    assert done["status_details"]["error"]["code"] == "server_error"
    return done


async def test_a_failing_response_sends_server_error_and_a_failed_response_done() -> None:
    model = BrokenModel()
    async with SimServer(SimConfig(), model_factory=lambda: model) as sim:
        wire = await opened(sim, TEXT_ONLY)
        await wire.send(create(user_text("hello")))
        await wire.send({"type": "response.create", "event_id": "ask_1"})
        _failed(await wire.until("response.done"), "ask_1")  # the plan raised
        await wire.send({"type": "response.create", "event_id": "ask_2"})
        _failed(await wire.until("response.done"), "ask_2")  # the stream raised
        await wire.send({"type": "response.create", "event_id": "ask_3"})
        events = await wire.until("response.done")
        assert events[-1]["response"]["status"] == "completed"  # the session lives on
        assert sim.sessions[0].active is None
        await wire.close()


async def test_a_failing_handler_answers_server_error_and_the_session_lives_on() -> None:
    async with SimServer(SimConfig()) as sim:
        wire = await opened(sim)
        session = sim.sessions[0]

        def broken(*args: object, **kwargs: object) -> object:
            raise RuntimeError("store broke")

        session.store.retrieve = broken  # type: ignore[method-assign]
        await wire.send({"type": "conversation.item.retrieve", "item_id": "x", "event_id": "r1"})
        err = (await wire.until("error"))[-1]["error"]
        assert (err["type"], err["code"], err["event_id"]) == ("server_error", "server_error", "r1")
        await wire.send({"type": "input_audio_buffer.clear"})
        await wire.until("input_audio_buffer.cleared")
        await wire.close()


# -- shapes ------------------------------------------------------------------------------


async def test_the_response_object_carries_audio_output_settings() -> None:
    """Recorded: ``response.audio`` = ``{"output": {"format": ..., "voice": ...}}`` in
    response.created and response.done, text responses included."""
    async with SimServer(SimConfig()) as sim:
        wire = await opened(sim, TEXT_ONLY)
        await wire.send(create(user_text("hello")))
        await wire.send({"type": "response.create"})
        events = await wire.until("response.done")
        bracket = [e for e in events if e["type"] in ("response.created", "response.done")]
        assert len(bracket) == 2
        for event in bracket:
            assert event["response"]["audio"] == {
                "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"}
            }
        await wire.close()


async def test_item_done_repeats_the_added_previous_item_id_but_for_the_first_item() -> None:
    """Recorded (R11): ``conversation.item.done`` of a response item carries null only when
    its ``.added`` named the conversation's first item, and the same id otherwise."""
    model = ScriptedModel()
    model.add(PlannedText("one"), PlannedText("two"))
    model.add(PlannedText("three"))
    async with SimServer(SimConfig(), model_factory=lambda: model) as sim:
        wire = await opened(sim, TEXT_ONLY)
        await wire.send(create(user_text("first", "u1")))
        await wire.send({"type": "response.create"})
        await wire.until("response.done")
        await wire.send({"type": "response.create"})
        await wire.until("response.done")
        added = {
            e["item"]["id"]: e["previous_item_id"]
            for e in wire.events
            if e["type"] == "conversation.item.added"
        }
        done = {
            e["item"]["id"]: e["previous_item_id"]
            for e in wire.events
            if e["type"] == "conversation.item.done"
        }
        ids = sim.sessions[0].store.ids()
        assert added == {ids[0]: None, ids[1]: "u1", ids[2]: ids[1], ids[3]: ids[2]}
        assert done == {ids[0]: None, ids[1]: None, ids[2]: ids[1], ids[3]: ids[2]}
        await wire.close()
