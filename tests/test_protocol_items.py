"""Conversion between accord's items and wire items, both ways, for every item kind."""

from __future__ import annotations

import string
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.items import FunctionCall, FunctionCallOutput, Item, Message
from accord.protocol import (
    ConversationItemAdded,
    ConversationItemCreate,
    InputAudioPart,
    InputImagePart,
    InputTextPart,
    InvalidEventError,
    OutputAudioPart,
    OutputTextPart,
    UnsupportedItemError,
    WireFunctionCall,
    WireFunctionCallOutput,
    WireMessage,
    WireOtherItem,
    encode,
    item_from_wire,
    item_to_wire,
    parse_server_event,
)

PROPERTY = settings(max_examples=60, deadline=None)  # per test: a profile would leak

ids = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=32)
texts = st.text(max_size=30)


@st.composite
def accord_messages(draw: st.DrawFn) -> Message:
    role = draw(st.sampled_from(["system", "user", "assistant"]))
    audio = role != "system" and draw(st.booleans())
    content = draw(st.none() | texts) if audio else draw(texts)
    return Message(id=draw(ids), role=role, content=content, audio=audio)


accord_items = (
    accord_messages()
    | st.builds(FunctionCall, id=ids, call_id=ids, name=ids, arguments=texts)
    | st.builds(FunctionCallOutput, id=ids, call_id=ids, output=texts)
)

# -- accord -> wire, one case per kind ---------------------------------------------------

CASES: list[tuple[Item, object]] = [
    (
        Message(id="m1", role="user", content="hello"),
        WireMessage(id="m1", role="user", content=(InputTextPart(text="hello"),)),
    ),
    (
        Message(id="m2", role="system", content="be brief"),
        WireMessage(id="m2", role="system", content=(InputTextPart(text="be brief"),)),
    ),
    (
        Message(id="m3", role="assistant", content="hi there"),
        WireMessage(id="m3", role="assistant", content=(OutputTextPart(text="hi there"),)),
    ),
    (
        Message(id="m4", role="user", content="spoken words", audio=True),
        WireMessage(id="m4", role="user", content=(InputAudioPart(transcript="spoken words"),)),
    ),
    (
        Message(id="m5", role="user", content=None, audio=True),
        WireMessage(id="m5", role="user", content=(InputAudioPart(transcript=None),)),
    ),
    (
        Message(id="m6", role="assistant", content="said aloud", audio=True),
        WireMessage(id="m6", role="assistant", content=(OutputAudioPart(transcript="said aloud"),)),
    ),
    (
        Message(id="m7", role="assistant", content=None, audio=True),
        WireMessage(id="m7", role="assistant", content=(OutputAudioPart(),)),
    ),
    (
        FunctionCall(id="fc1", call_id="call_1", name="lookup", arguments='{"q": 1}'),
        WireFunctionCall(id="fc1", call_id="call_1", name="lookup", arguments='{"q": 1}'),
    ),
    (
        FunctionCallOutput(id="fo1", call_id="call_1", output='{"ok": true}'),
        WireFunctionCallOutput(id="fo1", call_id="call_1", output='{"ok": true}'),
    ),
]


@pytest.mark.parametrize(("item", "wire"), CASES, ids=[c[0].id for c in CASES])
def test_each_item_kind_converts_both_ways(item: Item, wire: object) -> None:
    assert item_to_wire(item) == wire
    assert item_from_wire(item_to_wire(item)) == item


def test_wire_spellings_of_the_cases() -> None:
    spelled = {
        item.id: encode(ConversationItemCreate(item=item_to_wire(item))) for item, _ in CASES
    }
    assert '"content":[{"type":"input_text","text":"hello"}]' in spelled["m1"]
    assert '"content":[{"type":"output_text","text":"hi there"}]' in spelled["m3"]
    assert '{"type":"input_audio","transcript":"spoken words"}' in spelled["m4"]
    assert '"content":[{"type":"input_audio"}]' in spelled["m5"]  # client: unset omitted
    assert '{"type":"output_audio","transcript":"said aloud"}' in spelled["m6"]
    assert '"type":"function_call","call_id":"call_1","name":"lookup"' in spelled["fc1"]
    assert '"type":"function_call_output","call_id":"call_1"' in spelled["fo1"]


def test_a_missing_transcript_is_an_explicit_null_in_server_events() -> None:
    event = ConversationItemAdded(
        event_id="e", item=item_to_wire(Message(id="m", role="user", content=None, audio=True))
    )
    assert '"content":[{"type":"input_audio","transcript":null}]' in encode(event)


@PROPERTY
@given(accord_items)
def test_accord_to_wire_and_back(item: Item) -> None:
    assert item_from_wire(item_to_wire(item)) == item


@PROPERTY
@given(accord_items)
def test_conversion_survives_the_wire(item: Item) -> None:
    parsed = parse_server_event(
        encode(ConversationItemAdded(event_id="e", item=item_to_wire(item)))
    )
    assert isinstance(parsed, ConversationItemAdded)
    assert item_from_wire(parsed.item) == item


def test_fields_without_a_wire_spelling_are_not_sent() -> None:
    heard = Message(
        id="a", role="assistant", content="half", audio=True, audio_ms=1200, interrupted=True
    )
    assert item_from_wire(item_to_wire(heard)) == replace(heard, audio_ms=None, interrupted=False)


def test_audio_bytes_can_ride_along_untouched() -> None:
    payload = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA="
    wire = item_to_wire(Message(id="u", role="user", content="hi", audio=True), audio=payload)
    assert wire.content == (InputAudioPart(audio=payload, transcript="hi"),)
    assert f'"audio":"{payload}"' in encode(ConversationItemCreate(item=wire))
    with pytest.raises(ValueError, match="not spoken"):
        item_to_wire(Message(id="u", role="user", content="hi"), audio=payload)
    with pytest.raises(ValueError, match="only a spoken message"):
        item_to_wire(FunctionCallOutput(id="o", call_id="c", output=""), audio=payload)


# -- wire -> accord for what the server sends -------------------------------------------


def test_server_items_with_status_and_beta_parts_convert() -> None:
    beta = WireMessage(
        id="b1",
        role="assistant",
        status="completed",
        content=(OutputAudioPart(type="audio", transcript="old spelling"),),
    )
    assert item_from_wire(beta) == Message(
        id="b1", role="assistant", content="old spelling", audio=True
    )
    text = WireMessage(id="b2", role="assistant", content=(OutputTextPart(type="text", text="x"),))
    assert item_from_wire(text) == Message(id="b2", role="assistant", content="x")


def test_an_assistant_item_just_added_is_an_empty_message() -> None:
    added = WireMessage(id="a", role="assistant", status="in_progress", content=())
    assert item_from_wire(added) == Message(id="a", role="assistant", content="")


def test_several_parts_are_joined() -> None:
    two_texts = WireMessage(
        id="t", role="user", content=(InputTextPart(text="a"), InputTextPart(text="b"))
    )
    assert item_from_wire(two_texts) == Message(id="t", role="user", content="ab")
    pending = WireMessage(
        id="p",
        role="user",
        content=(InputAudioPart(transcript="x"), InputAudioPart(transcript=None)),
    )
    assert item_from_wire(pending) == Message(id="p", role="user", content=None, audio=True)


@pytest.mark.parametrize(
    "wire",
    [
        WireMessage(role="user", content=(InputTextPart(text="no id"),)),
        WireMessage(id="img", role="user", content=(InputImagePart(image_url="data:x"),)),
        WireOtherItem(type="mcp_call", id="mcp_1", server_label="s"),
        WireFunctionCall(id="fc", call_id="c", name="", arguments="{}"),
    ],
    ids=["no-id", "image", "mcp", "nameless-call"],
)
def test_items_accord_cannot_represent_are_refused_clearly(
    wire: WireMessage | WireFunctionCall | WireOtherItem,
) -> None:
    with pytest.raises(UnsupportedItemError):
        item_from_wire(wire)


def test_parts_must_fit_the_role() -> None:
    with pytest.raises(InvalidEventError, match="system message cannot carry"):
        WireMessage(role="system", content=(InputAudioPart(transcript="x"),))
    with pytest.raises(InvalidEventError, match="user message cannot carry"):
        WireMessage(role="user", content=(OutputTextPart(text="x"),))
    with pytest.raises(InvalidEventError, match="assistant message cannot carry"):
        WireMessage(role="assistant", content=(InputTextPart(text="x"),))
