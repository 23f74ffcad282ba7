"""The simulator driven by the official ``openai`` SDK, as a real client would drive it.

Every server event is read raw (``recv_bytes``), validated against the SDK's server-event
union, and parsed by the SDK connection itself; both must give the model its ``type``
names. The SDK's automatic reconnect is off (no ``on_reconnecting``, ``max_retries=0``).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from openai import AsyncOpenAI
from openai.resources.realtime.realtime import AsyncRealtimeConnection

from accord.items import Message
from accord.sim import audio
from accord.sim.config import SimConfig
from accord.sim.server import SimServer
from test_sim_support import (
    TIMEOUT,
    Event,
    SdkStream,
    check_response,
    matches,
    types,
    user_text,
)

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@asynccontextmanager
async def sdk_session(
    config: SimConfig | None = None,
) -> AsyncIterator[tuple[SimServer, AsyncRealtimeConnection, SdkStream]]:
    async with SimServer(config or SimConfig()) as sim:
        client = AsyncOpenAI(api_key="sk-test", websocket_base_url=sim.base_url)
        async with client.realtime.connect(model="gpt-realtime", max_retries=0) as conn:
            yield sim, conn, SdkStream(conn)


async def test_sdk_items_anchors_errors_and_a_function_call() -> None:
    async with sdk_session() as (sim, conn, rx):
        created = await rx.recv()
        assert created["type"] == "session.created"
        assert created["session"]["type"] == "realtime"
        # expires_at: a Unix time about 60 minutes ahead.
        assert abs(created["session"]["expires_at"] - (time.time() + 3600)) < 60

        await conn.session.update(
            session={
                "type": "realtime",
                "output_modalities": ["text"],
                "instructions": "Be brief.",
                "tools": [WEATHER],  # type: ignore[list-item]
            }
        )
        updated = (await rx.until("session.updated"))[-1]["session"]
        assert updated["type"] == "realtime"
        assert updated["output_modalities"] == ["text"]
        assert [t["name"] for t in updated["tools"]] == ["get_weather"]

        # -- the three anchor forms -------------------------------------------------------
        await conn.conversation.item.create(item=user_text("two", "u2"))  # type: ignore[arg-type]
        assert (await rx.acked("u2"))["previous_item_id"] is None  # first item
        await conn.conversation.item.create(
            item=user_text("zero", "u0"),  # type: ignore[arg-type]
            previous_item_id="root",
        )
        assert (await rx.acked("u0"))["previous_item_id"] is None  # never echoes "root"
        await conn.conversation.item.create(
            item=user_text("one", "u1"),  # type: ignore[arg-type]
            previous_item_id="u0",
        )
        assert (await rx.acked("u1"))["previous_item_id"] == "u0"
        await conn.conversation.item.create(item=user_text("three", "u3"))  # type: ignore[arg-type]
        assert (await rx.acked("u3"))["previous_item_id"] == "u2"
        store = sim.sessions[0].store
        assert store.ids() == ["u0", "u1", "u2", "u3"]

        await conn.conversation.item.delete(item_id="u1", event_id="del_u1")
        deleted = (await rx.until("conversation.item.deleted"))[-1]
        assert deleted["item_id"] == "u1"
        await conn.conversation.item.retrieve(item_id="u2", event_id="get_u2")
        retrieved = (await rx.until("conversation.item.retrieved"))[-1]
        assert retrieved["item"]["content"] == [{"type": "input_text", "text": "two"}]
        assert store.ids() == ["u0", "u2", "u3"]

        # -- the error cases of the notes, each echoing the client's event_id -------------
        async def refused(event_id: str) -> tuple[str | None, str, str | None]:
            err = await rx.error_for(event_id)
            assert err["type"] == "invalid_request_error"
            return err["code"], err["message"], err.get("param")

        await conn.conversation.item.create(item=user_text("again", "u2"), event_id="dup")  # type: ignore[arg-type]
        assert await refused("dup") == (
            "item_create_duplicate_item_id",
            "Error adding item: an item with id 'u2' already exists.",
            None,
        )
        await conn.conversation.item.create(
            item=user_text("lost", "u9"),  # type: ignore[arg-type]
            previous_item_id="ghost",
            event_id="anchor",
        )
        code, message, _ = await refused("anchor")
        assert message == "Error adding item: the previous item with id 'ghost' does not exist."
        await conn.conversation.item.delete(item_id="ghost", event_id="del_ghost")
        assert await refused("del_ghost") == (
            "item_delete_invalid_item_id",
            "Error deleting item: the item with id 'ghost' does not exist.",
            "item_id",
        )
        await conn.conversation.item.retrieve(item_id="ghost", event_id="get_ghost")
        assert (await refused("get_ghost"))[0] == "item_retrieve_invalid_item_id"
        await conn.conversation.item.create(
            item={"type": "function_call_output", "call_id": "call_X", "output": "{}"},
            event_id="orphan",
        )
        assert await refused("orphan") == (
            "invalid_tool_call_id",
            "Tool call ID 'call_X' not found in conversation.",
            None,
        )
        await conn.conversation.item.create(item=user_text("long", "x" * 33), event_id="long")  # type: ignore[arg-type]
        assert (await refused("long"))[1] == (
            "Invalid 'item.id': string too long. Expected a string with maximum length 32, "
            "but got a string with length 33 instead."
        )
        await conn.conversation.item.create(
            item={"type": "function_call", "call_id": "c" * 40, "name": "f", "arguments": "{}"},
            event_id="long_call",
        )
        assert (await refused("long_call"))[1] == (
            "Invalid 'item.call_id': string too long. Expected a string with maximum length "
            "32, but got a string with length 40 instead."
        )
        await conn.conversation.item.create(item=user_text("bad", "has space"), event_id="pattern")  # type: ignore[arg-type]
        code, _, param = await refused("pattern")
        assert (code, param) == ("invalid_value", "item.id")
        await conn.response.cancel(event_id="cancel_idle")
        assert await refused("cancel_idle") == (
            "response_cancel_not_active",
            "Cancellation failed: no active response found",
            None,
        )
        await conn.conversation.item.truncate(
            item_id="u2", content_index=0, audio_end_ms=100, event_id="trunc_text"
        )
        assert await refused("trunc_text") == (
            "unsupported_content_type",
            "Only model output audio messages can be truncated",
            None,
        )
        # An unknown session field discards the whole update.
        bad_update: Any = {
            "type": "session.update",
            "event_id": "bad_update",
            "session": {"type": "realtime", "instructions": "Ramble.", "colour": "red"},
        }
        await conn.send(bad_update)
        assert (await refused("bad_update"))[0] == "unknown_parameter"
        assert sim.sessions[0].session["instructions"] == "Be brief."
        # None of the refused operations touched the conversation.
        assert store.ids() == ["u0", "u2", "u3"]
        assert "conversation.item.added" not in types(await rx.quiet())

        # -- a function call and its follow-up -------------------------------------------
        await conn.conversation.item.create(item=user_text("What's the weather in Paris?", "u4"))  # type: ignore[arg-type]
        await rx.acked("u4")
        await conn.response.create(event_id="ask")
        turn = await rx.until("response.done")
        call_done = check_response(turn, turn[-1]["response"]["id"])
        assert call_done["response"]["status"] == "completed"
        (call,) = call_done["response"]["output"]
        assert call["type"] == "function_call"
        assert call["name"] == "get_weather"
        assert "city" in json.loads(call["arguments"])
        added = next(e for e in turn if e["type"] == "conversation.item.added")
        assert added["previous_item_id"] == "u4"

        await conn.conversation.item.create(
            item={
                "type": "function_call_output",
                "id": "out1",
                "call_id": call["call_id"],
                "output": "sunny",
            }
        )
        assert (await rx.acked("out1"))["previous_item_id"] == call["id"]
        await conn.response.create(response={"metadata": {"turn": "follow-up"}})
        follow = await rx.until("response.done")
        created_ev = next(e for e in follow if e["type"] == "response.created")
        assert created_ev["response"]["metadata"] == {"turn": "follow-up"}
        done = check_response(follow, created_ev["response"]["id"])
        assert done["response"]["metadata"] == {"turn": "follow-up"}
        (reply,) = done["response"]["output"]
        assert reply["content"] == [{"type": "output_text", "text": "Done. sunny"}]
        assert store.ids() == ["u0", "u2", "u3", "u4", call["id"], "out1", reply["id"]]


async def test_sdk_audio_turn_with_server_vad() -> None:
    async with sdk_session() as (sim, conn, rx):
        await rx.until("session.created")
        await conn.session.update(
            session={
                "type": "realtime",
                "audio": {
                    "input": {
                        "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
                        "transcription": {"model": "whisper-1"},
                    }
                },
            }
        )
        await rx.until("session.updated")
        speech = audio.synthesize("book a table for two") + audio.silence(800)
        chunk = 100 * audio.BYTES_PER_MS
        for start in range(0, len(speech), chunk):
            piece = base64.b64encode(speech[start : start + chunk]).decode("ascii")
            await conn.input_audio_buffer.append(audio=piece)

        def finished(seen: list[str]) -> bool:
            return {
                "response.done",
                "conversation.item.input_audio_transcription.completed",
            } <= set(seen)

        events: list[Event] = []
        while not finished(types(events)):
            events.append(await rx.recv(TIMEOUT))
        kinds = types(events)
        chain = [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "conversation.item.added",
            "conversation.item.done",
            "response.created",
        ]
        at = [kinds.index(kind) for kind in chain]
        assert at == sorted(at), kinds
        started, stopped, committed, added, done_ev = (events[i] for i in at[:5])
        item_id = started["item_id"]  # speech_started already names the future item
        assert stopped["item_id"] == committed["item_id"] == item_id
        assert committed["previous_item_id"] is None
        assert added["item"]["id"] == item_id and added["previous_item_id"] is None
        assert added["item"]["content"] == [{"type": "input_audio", "transcript": None}]
        assert done_ev["item"]["id"] == item_id

        response_id = events[at[-1]]["response"]["id"]
        done = check_response(events, response_id)
        (reply,) = done["response"]["output"]
        assert reply["content"][0]["type"] == "output_audio"
        # The model heard the words before their transcript arrived.
        assert reply["content"][0]["transcript"] == "You said: book a table for two"

        completed = next(
            e
            for e in events
            if matches("conversation.item.input_audio_transcription.completed", item_id=item_id)(e)
        )
        assert completed["transcript"] == "book a table for two"
        deltas = [
            e["delta"]
            for e in events
            if e["type"] == "conversation.item.input_audio_transcription.delta"
        ]
        assert "".join(deltas).strip() == "book a table for two"
        assert kinds.index("input_audio_buffer.committed") < kinds.index(
            "conversation.item.input_audio_transcription.completed"
        )
        store = sim.sessions[0].store
        item = store.get(item_id)
        assert isinstance(item, Message) and item.content == "book a table for two"
        assert store.ids() == [item_id, reply["id"]]
