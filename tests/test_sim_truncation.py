"""Server-side truncation in the simulator (issue 18): the server drops the oldest items
by itself, silently, when the conversation after the instructions outgrows its limit.

Token counts follow sim/tokens.py: a 40-character user message is ceil(40 / 4) + 4 = 14
tokens; the instructions "Be brief." are 3; the scripted answer "ok" is 1 + 4 = 5.
"""

from __future__ import annotations

import base64
from typing import Any

from openai.types.realtime import RealtimeTruncation
from pydantic import TypeAdapter

from accord.items import FunctionCall, FunctionCallOutput, Message
from accord.sim import audio
from accord.sim.config import SimConfig
from accord.sim.model import PlannedCall, PlannedText, ScriptedModel
from accord.sim.server import SimServer
from accord.sim.tokens import Count, item_tokens
from accord.sim.truncation import (
    REMEMBERED_PROMPTS,
    PromptCache,
    Truncation,
    overflow_error,
    plan_cut,
    truncation_of,
)
from test_sim_support import Wire, create, user_text
from trace_rules import Trace, check

INSTRUCTIONS = "Be brief."  # 3 tokens
HEAD = 3
MESSAGE = 14  # a 40-character user message
ANSWER = 5  # "ok"


def ratio(r: float, limit: int) -> dict[str, Any]:
    return {
        "type": "retention_ratio",
        "retention_ratio": r,
        "token_limits": {"post_instructions": limit},
    }


def setup(truncation: Any) -> dict[str, Any]:
    session = {"type": "realtime", "output_modalities": ["text"], "instructions": INSTRUCTIONS}
    if truncation is not None:
        session["truncation"] = truncation
    return {"type": "session.update", "session": session}


def text(n: int) -> str:
    return f"message {n:03d} ".ljust(40, ".")


def answering_ok() -> ScriptedModel:
    model = ScriptedModel()
    for _ in range(10):
        model.add(PlannedText("ok"))
    return model


async def session_with(sim: SimServer, truncation: Any, messages: int) -> Wire:
    wire = await Wire.open(sim.url)
    await wire.until("session.created")
    await wire.send(setup(truncation))
    updated = (await wire.until("session.updated"))[-1]["session"]
    if truncation is not None:
        assert updated["truncation"] == truncation
        TypeAdapter(RealtimeTruncation).validate_python(updated["truncation"])
    for n in range(messages):
        await wire.send(create(user_text(text(n), f"u{n}")))
        await wire.acked(f"u{n}")
    return wire


async def respond(wire: Wire) -> dict[str, Any]:
    await wire.send({"type": "response.create"})
    done: dict[str, Any] = (await wire.until("response.done"))[-1]["response"]
    return done


def test_the_token_estimate() -> None:
    assert item_tokens(Message(id="u", role="user", content=text(0))) == Count(MESSAGE)
    assert item_tokens(Message(id="a", role="assistant", content="ok")) == Count(ANSWER)
    call = FunctionCall(id="c", call_id="k", name="get_weather", arguments='{"city":"Paris"}')
    assert item_tokens(call) == Count(4 + 7)  # 27 characters of name and arguments
    assert item_tokens(FunctionCallOutput(id="o", call_id="k", output="sunny")) == Count(4 + 2)
    spoken = Message(id="s", role="user", content="hi", audio=True, audio_ms=1_000)
    assert item_tokens(spoken) == Count(4, 10)  # user audio: one token per 100 ms
    said = Message(id="t", role="assistant", content="hi", audio=True, audio_ms=1_000)
    assert item_tokens(said) == Count(4, 20)  # assistant audio: one per 50 ms


def test_the_cut_drops_from_the_front_down_to_the_retention_target() -> None:
    items = [(f"u{n}", 10) for n in range(10)]
    assert plan_cut(items, Truncation("auto", 100)).dropped == ()
    cut = plan_cut(items, Truncation("retention_ratio", 90, 0.5))
    assert (cut.dropped, cut.remaining) == (("u0", "u1", "u2", "u3", "u4", "u5"), 40)
    assert plan_cut(items, Truncation("auto", 90)).dropped == ("u0",)
    # The last item (the one being answered) and an item that may not go stop the cut.
    assert plan_cut(items, Truncation("auto", 5)).dropped == tuple(f"u{n}" for n in range(9))
    kept = plan_cut(items, Truncation("auto", 5), keep=lambda i: i == "u3")
    assert kept.dropped == ("u0", "u1", "u2")
    over = plan_cut(items, Truncation("disabled", 90))
    assert over.dropped == () and over.over
    assert overflow_error(over.remaining, 90).code == "context_length_exceeded"


def test_truncation_settings_as_the_sdk_spells_them() -> None:
    assert truncation_of(None) == Truncation()
    assert truncation_of("auto", 500) == Truncation("auto", 500, 1.0)
    assert truncation_of("disabled", 500) == Truncation("disabled", 500, 1.0)
    assert truncation_of(ratio(0.8, 300), 500) == Truncation("retention_ratio", 300, 0.8)
    assert truncation_of({"type": "retention_ratio", "retention_ratio": 0.5}, 500).limit == 500


def test_the_cache_counts_the_shared_prefix() -> None:
    cache = PromptCache()
    prompt = [("i", Count(3)), ("a", Count(10)), ("b", Count(5))]
    assert cache.cached(prompt) == Count()
    cache.remember(prompt, [("out", Count(7))])
    assert cache.cached([*prompt, ("out", Count(7)), ("c", Count(1))]) == Count(25)
    assert cache.cached([("i", Count(3)), ("b", Count(5))]) == Count(3)


def test_a_different_prompt_in_between_does_not_evict_the_conversations_prefix() -> None:
    # An out-of-band summary reads its own input; the next in-band response still finds
    # the conversation's prefix (the real cache keeps prefixes for minutes, not one).
    cache = PromptCache()
    conversation = [("i", Count(3)), ("a", Count(10)), ("b", Count(5))]
    cache.remember(conversation, [("out", Count(7))])
    cache.remember([("summary-ask", Count(40))], [("summary", Count(9))])
    assert cache.cached([*conversation, ("out", Count(7))]) == Count(25)
    for n in range(REMEMBERED_PROMPTS):  # bounded: the oldest prompt goes at last
        cache.remember([(f"other{n}", Count(1))], [])
    assert cache.cached(conversation) == Count()


async def test_retention_ratio_drops_the_oldest_items_silently() -> None:
    async with SimServer(SimConfig(), model_factory=answering_ok) as sim:
        # 20 messages of 14 tokens: 280 > 200, cut down to at most 100 (7 messages).
        wire = await session_with(sim, ratio(0.5, 200), 20)
        store = sim.sessions[0].store
        done = await respond(wire)
        assert done["status"] == "completed"
        kept = [f"u{n}" for n in range(13, 20)]
        assert store.ids() == [*kept, done["output"][0]["id"]]
        assert store.evicted_ids() == [f"u{n}" for n in range(13)]
        assert all(rec.deleted_by is None and rec.evicted_at for rec in store.evicted)
        assert "conversation.item.deleted" not in {e["type"] for e in wire.events}
        usage = done["usage"]
        assert usage["input_tokens"] == HEAD + 7 * MESSAGE
        assert usage["input_token_details"]["text_tokens"] == HEAD + 7 * MESSAGE
        assert usage["input_token_details"]["cached_tokens"] == 0
        assert usage["output_tokens"] == 1  # "ok"
        assert usage["total_tokens"] == usage["input_tokens"] + 1

        # Retrieve answers for a kept item and errors for a dropped one, like an unknown id.
        await wire.send({"type": "conversation.item.retrieve", "item_id": "u13", "event_id": "r1"})
        assert (await wire.until("conversation.item.retrieved"))[-1]["item"]["id"] == "u13"
        await wire.send({"type": "conversation.item.retrieve", "item_id": "u0", "event_id": "r2"})
        assert (await wire.error_for("r2"))["code"] == "item_retrieve_invalid_item_id"
        await wire.send({"type": "conversation.item.delete", "item_id": "u1", "event_id": "d1"})
        assert (await wire.error_for("d1"))["code"] == "item_delete_invalid_item_id"
        await wire.send(create(user_text("late", "late"), previous_item_id="u2", event_id="c1"))
        assert (await wire.error_for("c1"))["code"] == "item_create_invalid_previous_item_id"
        # The next response anchors on what is left; the recordings' rules hold throughout.
        await wire.send(create(user_text(text(20), "u20")))
        await wire.acked("u20")
        await respond(wire)
        await wire.quiet()
        found = check(Trace(wire.events, list(wire.sent), name="truncation"))
        assert not found, "\n".join(map(str, found))
        await wire.close()


async def test_an_unchanged_prefix_is_cached_and_a_cut_busts_it() -> None:
    async with SimServer(SimConfig(), model_factory=answering_ok) as sim:
        wire = await session_with(sim, ratio(0.5, 200), 10)  # 140 tokens: no cut yet
        first = await respond(wire)
        assert first["usage"]["input_tokens"] == HEAD + 10 * MESSAGE
        assert first["usage"]["input_token_details"]["cached_tokens"] == 0
        await wire.send(create(user_text(text(10), "u10")))
        await wire.acked("u10")
        second = await respond(wire)  # 140 + 5 + 14 = 159: still no cut
        expected = HEAD + 10 * MESSAGE + ANSWER
        assert second["usage"]["input_tokens"] == expected + MESSAGE
        details = second["usage"]["input_token_details"]
        assert details["cached_tokens"] == expected  # everything the first one read and wrote
        assert details["cached_tokens_details"]["text_tokens"] == expected
        for n in range(11, 14):
            await wire.send(create(user_text(text(n), f"u{n}")))
            await wire.acked(f"u{n}")
        third = await respond(wire)  # 159 + 5 + 42 = 206 > 200: the front goes
        store = sim.sessions[0].store
        assert store.evicted_ids()[:1] == ["u0"]
        assert third["usage"]["input_token_details"]["cached_tokens"] == HEAD  # only the head
        assert third["usage"]["input_tokens"] <= HEAD + 100
        await wire.close()


async def test_auto_fits_the_model_limit() -> None:
    async with SimServer(SimConfig(post_instructions_limit=100), model_factory=answering_ok) as sim:
        wire = await session_with(sim, None, 10)  # "auto" by default: 140 > 100
        assert wire.events[0]["session"]["truncation"] == "auto"
        done = await respond(wire)
        store = sim.sessions[0].store
        # Down to at most the limit (7 messages, 98 tokens), not further.
        assert store.evicted_ids() == ["u0", "u1", "u2"]
        assert done["usage"]["input_tokens"] == HEAD + 7 * MESSAGE
        await wire.close()


async def test_disabled_fails_the_response_over_the_window() -> None:
    async with SimServer(SimConfig(post_instructions_limit=100), model_factory=answering_ok) as sim:
        wire = await session_with(sim, "disabled", 10)
        done = await respond(wire)
        assert done["status"] == "failed"
        assert done["output"] == []
        error = done["status_details"]["error"]
        assert (error["type"], error["code"]) == (
            "invalid_request_error",
            "context_length_exceeded",
        )
        store = sim.sessions[0].store
        assert store.ids() == [f"u{n}" for n in range(10)] and store.evicted == []
        assert "error" not in {e["type"] for e in wire.events}
        await wire.close()


async def test_a_truncation_the_sdk_does_not_allow_is_refused() -> None:
    async with SimServer(SimConfig()) as sim:
        wire = await Wire.open(sim.url)
        await wire.until("session.created")
        for bad in ("sometimes", ratio(1.5, 100), ratio(0.5, 0), {"type": "retention_ratio"}):
            await wire.send({**setup(bad), "event_id": "bad"})
            err = await wire.error_for("bad")
            assert err["code"] in ("invalid_value", "unknown_parameter"), err
        assert sim.sessions[0].session["truncation"] == "auto"
        await wire.close()


async def test_user_audio_counts_by_its_length() -> None:
    async with SimServer(SimConfig(), model_factory=answering_ok) as sim:
        wire = await Wire.open(sim.url)
        await wire.until("session.created")
        update = setup(None)
        update["session"]["audio"] = {"input": {"turn_detection": None}}
        await wire.send(update)
        await wire.until("session.updated")
        pcm = base64.b64encode(audio.silence(1_000)).decode()
        await wire.send({"type": "input_audio_buffer.append", "audio": pcm})
        await wire.send({"type": "input_audio_buffer.commit"})
        await wire.until("conversation.item.done")
        details = (await respond(wire))["usage"]["input_token_details"]
        assert (details["audio_tokens"], details["text_tokens"]) == (10, HEAD + 4)
        await wire.close()


async def test_a_tool_round_being_answered_is_never_dropped() -> None:
    """The tool round a response answers (the call and its output) stays whole."""
    model = ScriptedModel()
    model.add(PlannedCall("get_weather", '{"city": "' + "x" * 200 + '"}'))
    model.add(PlannedText("ok"))
    async with SimServer(SimConfig(), model_factory=lambda: model) as sim:
        wire = await session_with(sim, ratio(0.5, 100), 1)
        call = (await respond(wire))["output"][0]
        output = {"type": "function_call_output", "call_id": call["call_id"], "output": "y" * 200}
        await wire.send(create(output))
        await wire.until("conversation.item.done")
        done = await respond(wire)  # u0 (14) + call (~58) + output (54) > 100
        store = sim.sessions[0].store
        assert store.evicted_ids() == ["u0"]
        assert [type(i).__name__ for i in store.items()][:2] == [
            "FunctionCall",
            "FunctionCallOutput",
        ]
        assert done["status"] == "completed"
        await wire.close()
