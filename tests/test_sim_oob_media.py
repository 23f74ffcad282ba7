"""Out-of-band responses, image input and server VAD's idle timeout (issue 18), every
event validated against the official SDK's types."""

from __future__ import annotations

import base64
from typing import Any

from accord.sim import audio
from accord.sim.config import SimConfig
from accord.sim.server import SimServer
from accord.sim.tokens import IMAGE_TOKENS, text_tokens
from test_sim_support import TEXT_ONLY, Wire, create, types, user_text
from trace_rules import Trace, check

PIXEL = "data:image/png;base64,iVBORw0KGgo="


async def opened(sim: SimServer, update: dict[str, Any] = TEXT_ONLY) -> Wire:
    wire = await Wire.open(sim.url)
    await wire.until("session.created")
    await wire.send(update)
    await wire.until("session.updated")
    return wire


def rules_hold(wire: Wire, name: str) -> None:
    found = check(Trace(wire.events, list(wire.sent), name=name))
    assert not found, "\n".join(map(str, found))


async def test_an_out_of_band_response_reads_its_input_and_leaves_the_conversation() -> None:
    ratio = {
        "type": "retention_ratio",
        "retention_ratio": 0.5,
        "token_limits": {"post_instructions": 30},
    }
    async with SimServer(SimConfig()) as sim:
        update = {
            "type": "session.update",
            "session": {"type": "realtime", "output_modalities": ["text"], "truncation": ratio},
        }
        wire = await opened(sim, update)
        for n in range(4):  # 4 x 14 tokens: over the 30-token limit
            await wire.send(create(user_text(f"message {n} ".ljust(40, "."), f"u{n}")))
            await wire.acked(f"u{n}")
        await wire.send(
            {
                "type": "response.create",
                "response": {
                    "conversation": "none",
                    "instructions": "Summarize.",
                    "metadata": {"purpose": "summary"},
                    "input": [
                        {"type": "item_reference", "id": "u0"},
                        {
                            "type": "message",
                            "role": "user",
                            "content": [
                                {"type": "input_text", "text": "And this."},
                                {"type": "input_image", "image_url": PIXEL},
                            ],
                        },
                    ],
                },
            }
        )
        events = await wire.until("response.done")
        done = events[-1]["response"]
        assert done["conversation_id"] is None and done["metadata"] == {"purpose": "summary"}
        assert "conversation.item.added" not in types(events)
        store = sim.sessions[0].store
        assert store.ids() == ["u0", "u1", "u2", "u3"] and store.evicted == []  # no cut
        # The input alone: the instructions, u0 (14) and the inline message (4 + 3).
        assert done["usage"]["input_tokens"] == text_tokens("Summarize.") + 14 + 4 + 3
        # Without an input it reads the conversation, still without truncating it.
        await wire.send({"type": "response.create", "response": {"conversation": "none"}})
        await wire.until("response.done")
        assert store.evicted == []
        await wire.quiet()
        rules_hold(wire, "out_of_band_input")
        await wire.close()


async def test_a_user_message_with_an_image_is_kept_and_echoed_whole() -> None:
    async with SimServer(SimConfig()) as sim:
        wire = await opened(sim)
        content = [
            {"type": "input_text", "text": "What is this?"},
            {"type": "input_image", "image_url": PIXEL, "detail": "low"},
        ]
        item = {"type": "message", "role": "user", "id": "img1", "content": content}
        await wire.send(create(item))
        added = await wire.acked("img1")
        assert added["item"]["content"] == content
        await wire.send({"type": "conversation.item.retrieve", "item_id": "img1"})
        retrieved = (await wire.until("conversation.item.retrieved"))[-1]["item"]
        assert retrieved["content"] == content
        await wire.send({"type": "response.create"})
        done = (await wire.until("response.done"))[-1]["response"]
        assert done["output"][0]["content"][0]["text"] == "You said: What is this?"
        details = done["usage"]["input_token_details"]
        assert details["image_tokens"] == IMAGE_TOKENS
        await wire.quiet()
        rules_hold(wire, "input_image")
        await wire.close()


async def test_idle_timeout_triggers_a_turn_after_that_much_silent_audio() -> None:
    update = {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "output_modalities": ["text"],
            "audio": {"input": {"turn_detection": {"type": "server_vad", "idle_timeout_ms": 1000}}},
        },
    }
    async with SimServer(SimConfig()) as sim:
        wire = await opened(sim, update)
        assert (
            wire.events[-1]["session"]["audio"]["input"]["turn_detection"]["idle_timeout_ms"]
            == 1000
        )
        chunk = base64.b64encode(audio.silence(100)).decode()
        for _ in range(9):
            await wire.send({"type": "input_audio_buffer.append", "audio": chunk})
        assert not [e for e in await wire.quiet() if e["type"].endswith("timeout_triggered")]
        for _ in range(3):
            await wire.send({"type": "input_audio_buffer.append", "audio": chunk})
        events = await wire.until("response.done")
        got = types(events)
        start = got.index("input_audio_buffer.timeout_triggered")
        assert got[start : start + 4] == [
            "input_audio_buffer.timeout_triggered",
            "input_audio_buffer.committed",
            "conversation.item.added",
            "conversation.item.done",
        ]
        fired = events[start]
        assert (fired["audio_start_ms"], fired["audio_end_ms"]) == (0, 1000)
        assert events[start + 1]["item_id"] == fired["item_id"]
        assert "response.created" in got[start:]
        # The silence is a user audio item of the conversation now.
        assert sim.sessions[0].store.ids()[0] == fired["item_id"]
        await wire.close()
