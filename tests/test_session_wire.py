"""What RealtimeSession puts on the wire, judged by the official SDK, and its recording.

One demo-like session exercises every client event the session can send: typed turns,
a tool call with a push while it runs, session updates, an interrupted audio reply
(cancel + truncate), an out-of-band reply with item references, a voice turn through
server VAD, a manual commit and a clear of the input buffer, and a dropped connection
with its restore (VAD off, then on again). It is recorded with ``record=``:

- every ``out`` frame must validate against the SDK's client-event union
  (``openai.types.realtime.RealtimeClientEvent``) *and* parse to the class its ``type``
  names (the SDK's union is discriminated by a marker pydantic does not read);
- the trace must replay byte-identically with ``accord.verify.replay.replay``, and
  ``accord replay TRACE`` must exit 0.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, get_args

from openai.types.realtime import RealtimeClientEvent
from openai.types.realtime.response_create_event_with_references_param import (
    ResponseCreateEventWithReferencesParam,
)
from pydantic import TypeAdapter
from typer.testing import CliRunner

from accord.cli.main import app as cli
from accord.client import events as app
from accord.client.inbound import BYTES_PER_MS
from accord.items import Message
from accord.session import RealtimeSession
from accord.sim import audio
from accord.sim.config import SimConfig
from accord.sim.model import PlannedCall, PlannedText, ScriptedModel
from accord.sim.server import SimServer
from accord.verify.replay import replay
from test_session_support import (
    TIMEOUT,
    WEATHER_TOOL,
    DropWatch,
    Pump,
    settle,
)

SDK_CLIENT_EVENTS: TypeAdapter[Any] = TypeAdapter(RealtimeClientEvent)
SDK_CREATE_WITH_REFERENCES: TypeAdapter[Any] = TypeAdapter(ResponseCreateEventWithReferencesParam)
SDK_CLIENT_CLASSES: dict[str, type] = {
    name: model
    for model in get_args(get_args(RealtimeClientEvent)[0])
    for name in get_args(model.model_fields["type"].annotation)
}
EVERY_CLIENT_EVENT = {
    "session.update",
    "conversation.item.create",
    "conversation.item.delete",
    "conversation.item.truncate",
    "response.create",
    "response.cancel",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
}
SESSION = {
    "instructions": "You are a terse assistant.",
    "output_modalities": ["audio"],
    "tools": [WEATHER_TOOL],
    "audio": {
        "input": {
            "transcription": {"model": "whisper-1"},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 200},
        },
        "output": {"voice": "alloy"},
    },
}
STORY = "Once upon a time a long story began, and it went on and on for a while. " * 2


def out_frames(trace: Path) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in trace.read_text().splitlines() if line.strip()]
    return [json.loads(r["frame"]) for r in records if r["kind"] == "out"]


async def until(condition: Any, what: str) -> None:
    async def loop() -> None:
        while not condition():
            await asyncio.sleep(0.002)

    try:
        await asyncio.wait_for(loop(), TIMEOUT)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def demo_like_session(trace: Path, *, record_audio: bool) -> tuple[DropWatch, str]:
    """Run the recorded session; returns the restore's judge and the story's item id."""
    model = ScriptedModel()
    model.add(PlannedText("Hello!"))
    model.add(PlannedCall("get_weather", '{"city": "Paris"}'))
    model.add(PlannedText("It is 18 degrees in Paris."))
    model.add(PlannedText(STORY))
    model.add(PlannedText("Summary: the weather in Paris."))
    model.add(PlannedText("You are welcome."))
    sim = SimServer(SimConfig(stream_pause_ms=10), model_factory=lambda: model)
    async with (
        sim,
        RealtimeSession.connect(
            sim.url,
            api_key="sk-test",
            session=SESSION,
            seed=61,
            record=trace,
            record_audio=record_audio,
            backoff_initial=0.02,
            wait_timeout=TIMEOUT,
        ) as session,
    ):
        watch = DropWatch(session, sim)
        pump = Pump(session, watch)
        await pump.wait_for(app.SessionStarted)

        # Typed turns, a system message, a reply with its own instructions.
        ctx = session.chat_ctx
        ctx.append(Message(id="sys", role="system", content="Speak slowly."))
        ctx.append(Message(id="u1", role="user", content="hello"))
        await session.update_chat_ctx(ctx)
        greeting = await session.generate_reply(instructions="Greet the user.")
        assert await asyncio.wait_for(greeting.wait(), TIMEOUT) == "completed"

        # A tool call, with a push (dropping u1) while it runs.
        ctx = session.chat_ctx
        ctx.append(Message(id="u2", role="user", content="what's the weather in Paris?"))
        await session.update_chat_ctx(ctx)
        snapshot = session.chat_ctx
        await session.generate_reply()
        ready = await pump.wait_for(app.FunctionCallReady)
        session.tool_started(ready.call.call_id)
        report = await session.update_chat_ctx(snapshot.filter(lambda i: i.id != "u1"))
        assert not report.failed
        session.tool_finished(ready.call.call_id, '{"temp": 18}')
        await pump.wait_for(
            app.GenerationStarted,
            lambda e: (
                e.generation.requested_by is not None
                and e.generation.response_id != ready.response_id
            ),
        )
        await settle(session, sim.sessions[-1])

        await session.update_instructions("Be brief.")
        await session.update_tools([WEATHER_TOOL])

        # An audio reply interrupted: cancel, then truncate where it was heard.
        ctx = session.chat_ctx
        ctx.append(Message(id="u3", role="user", content="tell me a story"))
        await session.update_chat_ctx(ctx)
        story = await session.generate_reply()
        added = await pump.wait_for(app.RemoteItemAdded, lambda e: e.previous_item_id == "u3")
        await until(
            lambda: session.core.audio_received.get(added.item.id, 0) >= 800 * BYTES_PER_MS,
            "800 ms of the story",
        )
        server = sim.sessions[-1]
        server.inbox.hold()  # the cancel is finished before the truncate, as the real
        session.interrupt(played_ms=400)  # server does (see test_session_barge_in)
        await until(lambda: server.inbox.pending == 2, "cancel and truncate")
        server.inbox.release(1)
        await until(lambda: server.active is None, "the cancelled response's end")
        server.inbox.release()
        assert await asyncio.wait_for(story.wait(), TIMEOUT) == "cancelled"
        await settle(session, sim.sessions[-1])

        # Out of band, reading u2 by reference and an inline ask, tagged with metadata.
        ask = Message(id="ask1", role="user", content="Summarize that.")
        summary = await session.generate_reply(
            out_of_band=True, metadata={"purpose": "summary"}, input=["u2", ask]
        )
        assert await asyncio.wait_for(summary.wait(), TIMEOUT) == "completed"

        # A voice turn through server VAD, then a manual commit of silence (its
        # transcription fails: lost at the drop) and a clear.
        session.push_audio(audio.synthesize("thank you") + audio.silence(600))
        await pump.wait_for(app.InputTranscriptCompleted)
        await settle(session, sim.sessions[-1])
        session.push_audio(audio.silence(300))
        sim.sessions[-1].faults.fail_transcriptions = 1  # silence itself transcribes to ""
        session.commit_audio()
        await pump.wait_for(app.InputTranscriptFailed)
        session.push_audio(audio.silence(100))
        session.clear_audio()
        await settle(session, sim.sessions[-1])

        # A drop, and the restore.
        await sim.sessions[-1]._close(1011, "simulated connection drop")
        await pump.wait_for(app.Reconnected)
        await settle(session, sim.sessions[-1])
        ctx = session.chat_ctx
        ctx.append(Message(id="u4", role="user", content="bye"))
        await session.update_chat_ctx(ctx)
        await pump.stop()
        return watch, added.item.id


def sdk_accepts(frame: dict[str, Any]) -> None:
    kind = frame["type"]
    assert kind in SDK_CLIENT_CLASSES, f"not an SDK client event type: {kind!r}"
    response = frame.get("response") or {}
    if any(entry.get("type") == "item_reference" for entry in response.get("input") or []):
        # The SDK's event model types `input` without item references; its own param
        # for response.create with references accepts them. The rest of the event must
        # still be the event model.
        SDK_CREATE_WITH_REFERENCES.validate_python(frame)
        frame = {**frame, "response": {k: v for k, v in response.items() if k != "input"}}
    parsed = SDK_CLIENT_EVENTS.validate_python(frame)
    assert type(parsed) is SDK_CLIENT_CLASSES[kind], f"the SDK parsed {kind!r} as {parsed!r}"
    assert parsed.type == kind


async def test_every_client_event_sent_validates_against_the_sdk(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    watch, story_id = await demo_like_session(trace, record_audio=True)
    frames = out_frames(trace)
    assert {f["type"] for f in frames} == EVERY_CLIENT_EVENT
    for frame in frames:
        sdk_accepts(frame)
    # The restore's session.update switches VAD off; the one after it, back on.
    turn = [
        f["session"]["audio"]["input"].get("turn_detection", "absent")
        for f in frames
        if f["type"] == "session.update" and "audio" in f["session"]
    ]
    assert None in turn and turn[-1] not in (None, "absent")
    # The restore (invariant 7, with audio): the interrupted story comes back as text cut
    # where it was heard, the voice turn as its transcript, and the manual commit of
    # silence (no transcript) is reported lost.
    assert watch.problems() == []
    assert len(watch.reconnected[0].lost) == 1
    story = next(i for i in watch.restored[0] if i.id == story_id)
    assert isinstance(story, Message) and 0 < len(story.text) < len(STORY) // 2
    assert STORY.startswith(story.text)


async def test_a_recorded_session_replays_byte_identically(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    await demo_like_session(trace, record_audio=False)
    result = replay(trace)
    assert result.frames_expected > 25
    assert result.identical, result.mismatches[:3]

    run = CliRunner().invoke(cli, ["replay", str(trace)])
    assert run.exit_code == 0, run.output
    assert "byte-identical" in run.output
    assert "sk-test" not in trace.read_text()  # the key is never recorded
