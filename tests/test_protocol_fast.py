"""The fast encoders and decoder say exactly what the validating models say."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from accord.items import FunctionCall, FunctionCallOutput, Item, Message
from accord.protocol import (
    ConversationItemAdded,
    ConversationItemCreate,
    ConversationItemDone,
    encode,
    item_from_wire,
    item_to_wire,
    parse_server_event,
)
from accord.protocol.fast import decode_item_ack, encode_item_ack, encode_item_create
from accord.sim.events import wire_item

ids = st.text("abcXYZ019_-", min_size=1, max_size=32)
texts = st.text(max_size=40)


@st.composite
def items(draw: st.DrawFn) -> Item:
    kind = draw(st.sampled_from(["text", "audio", "call", "output"]))
    item_id = draw(ids)
    if kind == "call":
        return FunctionCall(id=item_id, call_id=draw(ids), name=draw(ids), arguments=draw(texts))
    if kind == "output":
        return FunctionCallOutput(id=item_id, call_id=draw(ids), output=draw(texts))
    role = draw(
        st.sampled_from(
            ["user", "assistant"] if kind == "audio" else ["system", "user", "assistant"]
        )
    )
    content = draw(st.none() | texts) if kind == "audio" else draw(texts)
    return Message(id=item_id, role=role, content=content, audio=kind == "audio")


@settings(max_examples=300, deadline=None)
@given(items(), st.none() | st.just("root") | ids, st.none() | ids)
def test_fast_encoders_are_byte_identical(
    item: Item, prev: str | None, ack_prev: str | None
) -> None:
    wire = item_to_wire(item)
    create = ConversationItemCreate(event_id="evt_1", item=wire, previous_item_id=prev)
    assert encode_item_create("evt_1", item, prev) == encode(create)
    added = ConversationItemAdded(event_id="e2", previous_item_id=ack_prev, item=wire_item(item))
    assert encode_item_ack("conversation.item.added", "e2", ack_prev, item) == encode(added)
    done = ConversationItemDone(event_id="e3", previous_item_id=ack_prev, item=wire_item(item))
    assert encode_item_ack("conversation.item.done", "e3", ack_prev, item) == encode(done)


@settings(max_examples=300, deadline=None)
@given(items(), st.none() | ids)
def test_fast_decoder_agrees_with_the_parser(item: Item, prev: str | None) -> None:
    frame = encode_item_ack("conversation.item.added", "e2", prev, item)
    fast = decode_item_ack(frame)
    event = parse_server_event(frame)
    assert isinstance(event, ConversationItemAdded)
    if fast is None:  # spoken messages take the full parser
        assert isinstance(item, Message) and item.audio
        return
    kind, previous, decoded = fast
    assert kind == "conversation.item.added" and previous == event.previous_item_id
    assert decoded == item_from_wire(event.item)


def test_fast_decoder_declines_what_it_does_not_know() -> None:
    assert decode_item_ack('{"type":"response.done","event_id":"e"}') is None
    assert (
        decode_item_ack(
            '{"type":"conversation.item.added","event_id":"e","item":{"type":"mcp_call","id":"x"}}'
        )
        is None
    )
    assert (
        decode_item_ack(
            '{"type":"conversation.item.added","event_id":"e",'
            '"item":{"type":"message","id":"x","role":"robot"}}'
        )
        is None
    )
    assert decode_item_ack("not json at all") is None
