"""Where the simulator differed from the real server: each difference as a test.

Failures inside the server answer with the real ``server_error`` instead of silence; the
``response`` object carries ``audio``; ``conversation.item.done`` repeats ``.added``'s
``previous_item_id`` but for the first-item quirk (R11); transcription sends deltas and
one ``.completed``, never ``.failed`` for audio it cannot read; a frame nested too deeply
is an ``invalid_event``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from accord.sim import audio
from accord.sim.config import SimConfig
from accord.sim.malformed import event_id_of
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


# -- input transcription -----------------------------------------------------------------

TRANSCRIBING = {
    "type": "session.update",
    "session": {
        "type": "realtime",
        "output_modalities": ["text"],
        "audio": {
            "input": {
                "turn_detection": {"type": "server_vad", "create_response": False},
                "transcription": {"model": "gpt-realtime-whisper"},
            }
        },
    },
}
PREFIX = "conversation.item.input_audio_transcription."


async def _speak(wire: Wire, pcm: bytes) -> list[dict[str, Any]]:
    """Send ``pcm`` with silence around it; every event up to its transcript's end."""
    chunk = 100 * audio.BYTES_PER_MS
    speech = audio.silence(300) + pcm + audio.silence(800)
    for at in range(0, len(speech), chunk):
        await wire.send(
            {
                "type": "input_audio_buffer.append",
                "audio": base64.b64encode(speech[at : at + chunk]).decode(),
            }
        )
    return await wire.until(lambda e: e["type"] in (PREFIX + "completed", PREFIX + "failed"))


async def test_the_session_echoes_transcription_with_its_defaults() -> None:
    """Recorded: ``{"model": M}`` comes back as ``{"model": M, "language": null,
    "prompt": null}`` in session.updated."""
    async with SimServer(SimConfig()) as sim:
        wire = await opened(sim, TRANSCRIBING)
        session = wire.events[-1]["session"]
        assert session["audio"]["input"]["transcription"] == {
            "model": "gpt-realtime-whisper",
            "language": None,
            "prompt": None,
        }
        await wire.close()


async def test_spoken_text_is_transcribed_in_word_deltas_then_completed() -> None:
    text = "Hello, my name is Marcelo."
    async with SimServer(SimConfig()) as sim:
        wire = await opened(sim, TRANSCRIBING)
        events = await _speak(wire, audio.synthesize(text))
        deltas = [e["delta"] for e in events if e["type"] == PREFIX + "delta"]
        assert deltas == [" Hello", ",", " my", " name", " is", " Marcelo", "."]
        assert events[-1]["type"] == PREFIX + "completed"
        assert events[-1]["transcript"] == text
        assert events[-1]["usage"]["type"] == "duration"
        assert sim.sessions[0].store.items()[0].content == text
        await wire.close()


async def test_audio_without_known_words_gets_a_placeholder_transcript_not_failed() -> None:
    """The simulator cannot recognise speech it did not synthesize: the transcript is a
    stable placeholder naming the duration, through the real event sequence."""
    async with SimServer(SimConfig()) as sim:
        wire = await opened(sim, TRANSCRIBING)
        events = await _speak(wire, audio.tone(1200))
        kinds = {e["type"] for e in events if e["type"].startswith(PREFIX)}
        assert kinds == {PREFIX + "delta", PREFIX + "completed"}
        transcript = events[-1]["transcript"]
        assert transcript == audio.placeholder_transcript(1500)  # 1.2 s plus VAD padding
        pieces = "".join(e["delta"] for e in events if e["type"] == PREFIX + "delta")
        assert pieces.lstrip() == transcript
        await wire.close()


async def test_a_fault_can_still_fail_a_transcription() -> None:
    async with SimServer(SimConfig()) as sim:
        wire = await opened(sim, TRANSCRIBING)
        sim.sessions[0].faults.fail_transcriptions = 1
        events = await _speak(wire, audio.synthesize("lost words"))
        assert events[-1]["type"] == PREFIX + "failed"
        assert not [e for e in events if e["type"] == PREFIX + "delta"]
        await wire.close()


async def test_committed_silence_completes_with_an_empty_transcript() -> None:
    async with SimServer(SimConfig()) as sim:
        wire = await opened(sim, TRANSCRIBING)
        await wire.send(
            {
                "type": "input_audio_buffer.append",
                "audio": base64.b64encode(audio.silence(300)).decode(),
            }
        )
        await wire.send({"type": "input_audio_buffer.commit"})
        events = await wire.until(lambda e: e["type"].startswith(PREFIX))
        assert (events[-1]["type"], events[-1]["transcript"]) == (PREFIX + "completed", "")
        await wire.close()


# -- model generations -------------------------------------------------------------------

WEATHER_TOOLS = {
    "type": "session.update",
    "session": {
        "type": "realtime",
        "output_modalities": ["text"],
        "tools": [
            {
                "type": "function",
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ],
    },
}


async def _weather_round(sim: SimServer, model: str) -> tuple[Wire, list[dict[str, Any]]]:
    wire = await Wire.open(sim.url, model=model)
    await wire.until("session.created")
    await wire.send(WEATHER_TOOLS)
    await wire.until("session.updated")
    await wire.send(create(user_text("What is the weather in London?")))
    await wire.send({"type": "response.create"})
    first = (await wire.until("response.done"))[-1]["response"]
    call = next(o for o in first["output"] if o["type"] == "function_call")
    await wire.send(
        create({"type": "function_call_output", "call_id": call["call_id"], "output": "foggy"})
    )
    await wire.send({"type": "response.create"})
    second = (await wire.until("response.done"))[-1]["response"]
    return wire, [first, second]


async def test_gpt_realtime_2_says_a_preamble_before_a_call_and_marks_phases() -> None:
    """Recorded (the parity session, gpt-realtime-2.1): the first response holds a text
    preamble at output index 0 and the call at 1; assistant messages carry ``phase``
    (``commentary`` for the preamble, ``final_answer`` for the answer)."""
    async with SimServer(SimConfig()) as sim:
        wire, (first, second) = await _weather_round(sim, "gpt-realtime-2.1")
        assert [(o["type"], o.get("phase")) for o in first["output"]] == [
            ("message", "commentary"),
            ("function_call", None),
        ]
        assert [(o["type"], o.get("phase")) for o in second["output"]] == [
            ("message", "final_answer")
        ]
        items = [e["item"] for e in wire.events if "item" in e and e["item"]["type"] == "message"]
        assistant = [i for i in items if i["role"] == "assistant"]
        assert assistant and all("phase" in i for i in assistant)
        assert wire.events[0]["session"]["audio"]["output"]["voice"] == "marin"
        await wire.close()


async def test_gpt_realtime_calls_without_preamble_or_phase() -> None:
    async with SimServer(SimConfig()) as sim:
        wire, (first, _) = await _weather_round(sim, "gpt-realtime")
        assert [o["type"] for o in first["output"]] == ["function_call"]
        assert all("phase" not in e.get("item", {}) for e in wire.events)
        session = wire.events[0]["session"]
        # Recorded: gpt-realtime sessions start with alloy and 200 ms of silence to end a
        # turn (gpt-realtime-2.1: marin and 500 ms).
        assert session["audio"]["output"]["voice"] == "alloy"
        assert session["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 200
        await wire.close()


# -- a frame nested too deeply ----------------------------------------------------------


def _deep(levels: int) -> str:
    nested = "[" * levels + "]" * levels
    return '{"type":"conversation.item.create","event_id":"deep","item":' + nested + "}"


async def test_a_frame_nested_too_deeply_is_an_invalid_event_and_the_session_lives_on() -> None:
    async with SimServer(SimConfig()) as sim:
        wire = await opened(sim)
        for levels in (1_000, 100_000):
            await wire.send_raw(_deep(levels))
            err = (await wire.until("error"))[-1]["error"]
            assert (err["type"], err["code"]) == ("invalid_request_error", "invalid_event")
        await wire.send(create(user_text("still here", "u1")))
        assert (await wire.acked("u1"))["previous_item_id"] is None
        await wire.close()


def test_event_id_of_survives_a_frame_nested_too_deeply() -> None:
    assert event_id_of(_deep(100_000)) is None
    assert event_id_of('{"type":"x","event_id":"e1"}') == "e1"
