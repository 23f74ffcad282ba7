"""Races of docs/races.md forced on the wire with the simulator's hooks.

The hooks: ``session.faults`` (armed faults of one live session), and the two
:class:`DelayedChannel` FIFOs of each session, ``inbox`` (client -> server) and ``outbox``
(server -> client), which a test can ``hold()`` and ``release()`` so that frames sent at
different moments reach the other side together, in a chosen interleaving.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from accord.sim import audio
from accord.sim.channel import DelayedChannel
from accord.sim.config import Quirks, SimConfig
from accord.sim.model import PlannedCall, PlannedText, ScriptedModel
from accord.sim.server import SimServer
from accord.sim.session import SimSession
from test_sim_support import (
    TEXT_ONLY,
    TIMEOUT,
    Wire,
    check_response,
    create,
    matches,
    types,
    user_text,
)

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
BUSY = (
    "Conversation already has an active response in progress: {rid}. Wait until the "
    "response is finished before creating a new one."
)


async def held_until(channel: DelayedChannel[Any], count: int) -> None:
    """Wait until ``count`` messages sit in a held channel."""
    async with asyncio.timeout(TIMEOUT):
        while channel.pending < count:
            await asyncio.sleep(0.002)


async def opened(sim: SimServer, *updates: dict[str, Any]) -> tuple[Wire, SimSession]:
    wire = await Wire.open(sim.url)
    await wire.until("session.created")
    for update in updates:
        await wire.send(update)
        await wire.until("session.updated")
    return wire, sim.sessions[-1]


def speech(text: str, silence_ms: int = 0) -> list[dict[str, Any]]:
    pcm = audio.synthesize(text) + audio.silence(silence_ms)
    step = 100 * audio.BYTES_PER_MS
    return [
        {
            "type": "input_audio_buffer.append",
            "audio": base64.b64encode(pcm[i : i + step]).decode("ascii"),
        }
        for i in range(0, len(pcm), step)
    ]


# -- R6 ----------------------------------------------------------------------------------


async def test_r6_item_added_names_an_item_deleted_a_moment_earlier() -> None:
    model = ScriptedModel()
    model.add(PlannedText("a4 says hello"))
    async with SimServer(SimConfig(), model_factory=lambda: model) as sim:
        wire, session = await opened(sim, TEXT_ONLY)
        await wire.send(create(user_text("hello", "u1")))
        assistant = {
            "type": "message",
            "role": "assistant",
            "id": "a3",
            "content": [{"type": "output_text", "text": "earlier answer"}],
        }
        await wire.send(create(assistant))
        await wire.acked("a3")

        # The server is "already generating" against [u1 a3] when the delete lands.
        session.faults.anchor_next_output_on_deleted = True
        session.outbox.hold()  # the client sees nothing until both are answered
        await wire.send({"type": "conversation.item.delete", "item_id": "a3"})
        await wire.send({"type": "response.create"})
        await held_until(session.outbox, 3)  # deleted, response.created, output_item.added
        assert wire.events[-1]["type"] == "conversation.item.done"  # nothing new yet
        session.outbox.release()
        events = await wire.until("response.done")

        kinds = types(events)
        deleted_at = kinds.index("conversation.item.deleted")
        assert events[deleted_at]["item_id"] == "a3"
        added_at = kinds.index("conversation.item.added")
        assert deleted_at < added_at
        added = events[added_at]
        assert added["previous_item_id"] == "a3"  # the item confirmed deleted above
        a4 = added["item"]["id"]
        check_response(events, events[-1]["response"]["id"])

        # The server placed a4 after a3's surviving predecessor, and goes on from there.
        assert session.store.ids() == ["u1", a4]
        await wire.send(create(user_text("next", "u5")))
        assert (await wire.acked("u5"))["previous_item_id"] == a4
        dangling = await wire.send(create(user_text("late", "u6"), previous_item_id="a3"))
        err = await wire.error_for(dangling)
        assert err["message"] == "Error adding item: the previous item with id 'a3' does not exist."
        # The fault fires once.
        assert not session.faults.anchor_next_output_on_deleted
        await wire.close()


# -- R14 ---------------------------------------------------------------------------------


async def _function_call(wire: Wire) -> dict[str, Any]:
    await wire.send(create(user_text("What's the weather in Paris?", "u1")))
    await wire.send({"type": "response.create"})
    events = await wire.until("response.done")
    done = check_response(events, events[-1]["response"]["id"])
    call: dict[str, Any] = done["response"]["output"][0]
    assert call["type"] == "function_call"
    return call


async def test_r14_server_answers_the_output_itself_and_refuses_the_follow_up() -> None:
    config = SimConfig(quirks=Quirks(auto_response_after_output=True))
    async with SimServer(config) as sim:
        wire, session = await opened(
            sim, {"type": "session.update", "session": {"type": "realtime", "tools": [WEATHER]}}
        )
        call = await _function_call(wire)

        # The output and the follow-up reach the server together, as they would when
        # the client sends both at once.
        session.inbox.hold()
        await wire.send(
            create(
                {
                    "type": "function_call_output",
                    "id": "out1",
                    "call_id": call["call_id"],
                    "output": "sunny",
                }
            )
        )
        follow_up = await wire.send({"type": "response.create"})
        await held_until(session.inbox, 2)
        session.inbox.release()

        events = await wire.until("response.done")
        auto = next(e for e in events if e["type"] == "response.created")["response"]["id"]
        err = next(e for e in events if e["type"] == "error")["error"]
        assert err["code"] == "conversation_already_has_active_response"
        assert err["message"] == BUSY.format(rid=auto)
        assert err["event_id"] == follow_up
        kinds = types(events)
        assert kinds.index("conversation.item.added") < kinds.index("response.created")
        assert kinds.count("response.created") == 1  # the refused create got none
        done = check_response(events, auto)
        # The server's own response already saw the output.
        assert done["response"]["output"][0]["content"][0]["transcript"] == "Done. sunny"
        assert types(await wire.quiet()) in ([], ["rate_limits.updated"])
        await wire.close()


async def test_r14_vad_response_races_the_clients_follow_up() -> None:
    vad = {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "output_modalities": ["text"],
            "tools": [WEATHER],
            "audio": {"input": {"turn_detection": {"type": "server_vad"}}},
        },
    }
    async with SimServer(SimConfig()) as sim:
        wire, session = await opened(sim, vad)
        call = await _function_call(wire)

        # The user speaks while the tool runs; the client sends the output and its
        # follow-up having seen nothing of the speech (both channels held).
        session.inbox.hold()
        session.outbox.hold()
        for frame in speech("and tomorrow", silence_ms=700):
            await wire.send(frame)
        await wire.send(
            create(
                {
                    "type": "function_call_output",
                    "id": "out1",
                    "call_id": call["call_id"],
                    "output": "sunny",
                }
            )
        )
        follow_up = await wire.send({"type": "response.create"})
        await held_until(session.inbox, len(speech("and tomorrow", 700)) + 2)
        session.inbox.release()
        session.outbox.release()

        events = await wire.until(
            lambda e: e["type"] == "conversation.item.done" and e["item"]["id"] == "out1"
        )
        kinds = types(events)
        vad_response = next(e for e in events if e["type"] == "response.created")["response"]
        err = next(e for e in events if e["type"] == "error")["error"]
        assert (err["code"], err["event_id"]) == (
            "conversation_already_has_active_response",
            follow_up,
        )
        assert err["message"] == BUSY.format(rid=vad_response["id"])
        assert kinds.index("input_audio_buffer.speech_stopped") < kinds.index("response.created")
        assert kinds.index("response.created") < kinds.index("error")
        # The output, created while the VAD response streamed, is acknowledged only
        # after that response is done (docs/protocol-notes.md).
        out_added = next(
            i
            for i, e in enumerate(events)
            if e["type"] == "conversation.item.added" and e["item"]["id"] == "out1"
        )
        assert kinds.index("response.done") < out_added
        done = check_response(events, vad_response["id"])
        # The output went in at once, before the VAD response's first item: that item is
        # anchored on out1 (R16) and announced before out1's own, late, acknowledgement.
        (reply,) = done["response"]["output"]
        reply_added = next(
            e
            for e in events
            if e["type"] == "conversation.item.added" and e["item"]["id"] == reply["id"]
        )
        assert reply_added["previous_item_id"] == "out1"
        assert events.index(reply_added) < out_added
        audio_item = next(e for e in events if e["type"] == "input_audio_buffer.committed")[
            "item_id"
        ]
        assert events[out_added]["previous_item_id"] == audio_item
        assert session.store.ids() == ["u1", call["id"], audio_item, "out1", reply["id"]]
        assert session.active is None  # the client's follow-up is still to be sent
        await wire.close()


# -- R15 and the output acknowledgement ----------------------------------------------------


async def test_r15_cancel_after_vad_already_cancelled() -> None:
    config = SimConfig(delta_chars=4, stream_pause_ms=3)
    model = ScriptedModel()
    model.add(PlannedText("a long answer that keeps going " * 6))
    async with SimServer(config, model_factory=lambda: model) as sim:
        wire, _ = await opened(sim)
        await wire.send(create(user_text("talk to me", "u1")))
        await wire.send({"type": "response.create"})
        rid = (await wire.until("response.created"))[-1]["response"]["id"]
        await wire.until(matches("response.output_audio.delta", response_id=rid))
        for frame in speech("stop"):  # barge-in, no trailing silence
            await wire.send(frame)
        events = await wire.until("response.done")
        assert "input_audio_buffer.speech_started" in types(events)
        done = events[-1]["response"]
        assert (done["status"], done["status_details"]["reason"]) == ("cancelled", "turn_detected")
        check_response(wire.events, rid)
        late = await wire.send({"type": "response.cancel"})
        err = await wire.error_for(late)
        assert err["code"] == "response_cancel_not_active"
        await wire.close()


async def test_an_output_created_mid_response_is_acknowledged_after_response_done() -> None:
    config = SimConfig(delta_chars=4, stream_pause_ms=2)
    model = ScriptedModel()
    model.add(PlannedCall("get_weather", '{"city": "Paris"}'), PlannedText("word " * 40))
    async with SimServer(config, model_factory=lambda: model) as sim:
        wire, session = await opened(sim, TEXT_ONLY)
        await wire.send(create(user_text("weather and a story", "u1")))
        await wire.send({"type": "response.create"})
        args = (await wire.until("response.function_call_arguments.done"))[-1]
        await wire.send(
            create(
                {
                    "type": "function_call_output",
                    "id": "out1",
                    "call_id": args["call_id"],
                    "output": "ok",
                }
            )
        )
        async with asyncio.timeout(TIMEOUT):
            while session.store.get("out1") is None:
                await asyncio.sleep(0.002)
        assert session.active is not None  # the item is in before the response ends
        events = await wire.until(
            lambda e: e["type"] == "conversation.item.done" and e["item"]["id"] == "out1"
        )
        kinds = types(events)
        added = next(
            e
            for e in events
            if e["type"] == "conversation.item.added" and e["item"]["id"] == "out1"
        )
        assert kinds.index("response.done") < events.index(added)
        text_item = events[kinds.index("response.done")]["response"]["output"][1]["id"]
        assert added["previous_item_id"] == text_item  # the last item when it was created
        assert session.store.ids() == ["u1", args["item_id"], text_item, "out1"]
        await wire.close()
