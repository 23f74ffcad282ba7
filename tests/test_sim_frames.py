"""The response events the simulator encodes directly (sim/frames.py) are byte for byte
what the validating models it built before encode to, and read back as those models."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from accord.items import FunctionCall, Item, Message
from accord.protocol import (
    ConversationItemAdded,
    ConversationItemDone,
    RateLimitsUpdated,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseCreated,
    ResponseDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    ResponseOutputAudioDelta,
    ResponseOutputAudioDone,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputAudioTranscriptDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseOutputTextDelta,
    ResponseOutputTextDone,
    ResponsePart,
    ServerEvent,
    WireResponse,
    encode,
)
from accord.protocol.wire_items import WireItem
from accord.sim.events import empty_item, response_object, wire_item
from accord.sim.frames import (
    announced_json,
    encoded,
    item_json,
    model_of,
    part_json,
    response_json,
)
from accord.sim.mcp_items import McpItem

ids = st.text("abcXYZ019_-", min_size=1, max_size=24)
texts = st.text(max_size=40)
phases = st.none() | st.sampled_from(["commentary", "final_answer"])
statuses = st.sampled_from(["completed", "in_progress", "incomplete"])


@st.composite
def outputs(draw: st.DrawFn) -> Item:
    """What a response streams: an assistant message (text or audio) or a call."""
    if draw(st.booleans()):
        return FunctionCall(id=draw(ids), call_id=draw(ids), name=draw(ids), arguments=draw(texts))
    audio = draw(st.booleans())
    return Message(
        id=draw(ids),
        role="assistant",
        content=draw(texts),
        audio=audio,
        audio_ms=draw(st.none() | st.integers(0, 9000)) if audio else None,
        interrupted=draw(st.booleans()),
    )


def phased(wire: WireItem, phase: str | None) -> WireItem:
    """How the responder added ``phase`` to a wire item."""
    return wire if phase is None else wire.model_copy(update={"phase": phase})


def same(frame: str, model: ServerEvent) -> None:
    assert frame == encode(model)
    assert model_of(frame) == model  # what the sent log shows


@settings(max_examples=300, deadline=None)
@given(
    item=outputs(),
    status=statuses,
    phase=phases,
    event_id=ids,
    rid=ids,
    index=st.integers(0, 5),
    previous=st.none() | ids,
    chunk=texts,
    obfuscation=texts,
)
def test_item_events_are_what_the_models_encode_to(
    *,
    item: Item,
    status: str,
    phase: str | None,
    event_id: str,
    rid: str,
    index: int,
    previous: str | None,
    chunk: str,
    obfuscation: str,
) -> None:
    wire = phased(wire_item(item, status), phase)  # type: ignore[arg-type]
    item_ = item_json(item, status, phase)
    same(
        encoded(
            ResponseOutputItemAdded,
            event_id,
            response_id=rid,
            output_index=index,
            item=announced_json(item, phase),
        ),
        ResponseOutputItemAdded(
            event_id=event_id,
            response_id=rid,
            output_index=index,
            item=phased(empty_item(item), phase),
        ),
    )
    same(
        encoded(ResponseOutputItemDone, event_id, response_id=rid, output_index=index, item=item_),
        ResponseOutputItemDone(event_id=event_id, response_id=rid, output_index=index, item=wire),
    )
    for kind in (ConversationItemAdded, ConversationItemDone):
        same(
            encoded(kind, event_id, previous_item_id=previous, item=item_),
            kind(event_id=event_id, previous_item_id=previous, item=wire),
        )
    common: dict[str, Any] = {"response_id": rid, "item_id": item.id, "output_index": index}
    if isinstance(item, FunctionCall):
        same(
            encoded(
                ResponseFunctionCallArgumentsDelta,
                event_id,
                **common,
                call_id=item.call_id,
                delta=chunk,
                obfuscation=obfuscation,
            ),
            ResponseFunctionCallArgumentsDelta(
                event_id=event_id,
                **common,
                call_id=item.call_id,
                delta=chunk,
                obfuscation=obfuscation,
            ),
        )
        same(
            encoded(
                ResponseFunctionCallArgumentsDone,
                event_id,
                **common,
                call_id=item.call_id,
                arguments=item.arguments,
                name=item.name,
            ),
            ResponseFunctionCallArgumentsDone(
                event_id=event_id,
                **common,
                call_id=item.call_id,
                name=item.name,
                arguments=item.arguments,
            ),
        )
        return
    assert isinstance(item, Message)
    delta_kind = ResponseOutputAudioTranscriptDelta if item.audio else ResponseOutputTextDelta
    same(
        encoded(
            delta_kind, event_id, **common, content_index=0, delta=chunk, obfuscation=obfuscation
        ),
        delta_kind(
            event_id=event_id, **common, content_index=0, delta=chunk, obfuscation=obfuscation
        ),
    )
    same(
        encoded(
            ResponseContentPartAdded,
            event_id,
            **common,
            content_index=0,
            part=part_json(item.audio, ""),
        ),
        ResponseContentPartAdded(
            event_id=event_id,
            **common,
            content_index=0,
            part=ResponsePart(
                type="audio" if item.audio else "text",
                transcript="" if item.audio else None,
                text=None if item.audio else "",
            ),
        ),
    )
    part = (
        ResponsePart(type="audio", transcript=item.text)
        if item.audio
        else ResponsePart(type="text", text=item.text)
    )
    same(
        encoded(
            ResponseContentPartDone,
            event_id,
            **common,
            content_index=0,
            part=part_json(item.audio, item.text),
        ),
        ResponseContentPartDone(event_id=event_id, **common, content_index=0, part=part),
    )
    if item.audio:
        same(
            encoded(ResponseOutputAudioDelta, event_id, **common, content_index=0, delta=chunk),
            ResponseOutputAudioDelta(event_id=event_id, **common, content_index=0, delta=chunk),
        )
        same(
            encoded(ResponseOutputAudioDone, event_id, **common, content_index=0),
            ResponseOutputAudioDone(event_id=event_id, **common, content_index=0),
        )
        same(
            encoded(
                ResponseOutputAudioTranscriptDone,
                event_id,
                **common,
                content_index=0,
                transcript=item.text,
            ),
            ResponseOutputAudioTranscriptDone(
                event_id=event_id, **common, content_index=0, transcript=item.text
            ),
        )
    else:
        same(
            encoded(ResponseOutputTextDone, event_id, **common, content_index=0, text=item.text),
            ResponseOutputTextDone(event_id=event_id, **common, content_index=0, text=item.text),
        )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**9) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    rid=ids,
    status=st.sampled_from(["in_progress", "completed", "cancelled", "incomplete", "failed"]),
    items=st.lists(st.tuples(outputs(), statuses, phases), max_size=3),
    metadata=st.none() | st.dictionaries(texts, texts, max_size=3),
    conversation_id=st.none() | ids,
    audio=st.booleans(),
    usage=st.none() | st.dictionaries(texts, json_values, max_size=4),
    details=st.none() | st.dictionaries(texts, json_values, max_size=3),
    settings_=st.none() | st.dictionaries(texts, json_values, max_size=3),
    total=st.integers(0, 15_000_000),
)
def test_response_events_are_what_the_models_encode_to(
    *,
    rid: str,
    status: Any,
    items: list[tuple[Item, str, str | None]],
    metadata: dict[str, str] | None,
    conversation_id: str | None,
    audio: bool,
    usage: dict[str, Any] | None,
    details: dict[str, Any] | None,
    settings_: dict[str, Any] | None,
    total: int,
) -> None:
    modalities = ("audio",) if audio else ("text",)
    fields: dict[str, Any] = {
        "metadata": metadata,
        "conversation_id": conversation_id,
        "modalities": modalities,
        "usage": usage,
        "status_details": details,
        "audio": settings_,
    }
    wires = [phased(wire_item(i, s), p) for i, s, p in items]  # type: ignore[arg-type]
    plain = [item_json(i, s, p) for i, s, p in items]
    for kind in (ResponseCreated, ResponseDone):
        same(
            encoded(kind, "event_1", response=response_json(rid, status, output=plain, **fields)),
            kind(event_id="event_1", response=response_object(rid, status, output=wires, **fields)),
        )
    limits = {"name": "tokens", "limit": 15_000_000, "remaining": total, "reset_seconds": 0.004}
    same(
        encoded(RateLimitsUpdated, "event_2", rate_limits=[limits]),
        RateLimitsUpdated(event_id="event_2", rate_limits=(limits,)),
    )


def test_a_response_with_mcp_items_is_what_the_model_encodes_to() -> None:
    # MCP items stream through sim/mcp_output.py as models; response.done validates the
    # directly encoded items' values beside them (the responder's MCP path).
    call = McpItem.make("item_m", "mcp_call", server_label="s", name="n", arguments="{}")
    listed = McpItem.make("item_l", "mcp_list_tools", server_label="s", tools=[{"name": "n"}])
    texts = [Message(id="item_t", role="assistant", content="Done.", audio=True)]
    texts.append(Message(id="item_u", role="assistant", content="More."))
    wires = [call.wire(), listed.wire(), *(phased(wire_item(t), "final_answer") for t in texts)]
    mixed = [
        call.wire(),
        listed.wire(),
        *(item_json(t, "completed", "final_answer") for t in texts),
    ]
    old = ResponseDone(event_id="e", response=response_object("r", "completed", output=wires))
    new = ResponseDone(
        event_id="e",
        response=WireResponse.model_validate(response_json("r", "completed", output=mixed)),
    )
    assert encode(new) == encode(old)
    assert new == old
