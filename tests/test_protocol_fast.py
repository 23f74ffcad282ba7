"""The fast encoders and decoder say exactly what the validating models say."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from accord.items import FunctionCall, FunctionCallOutput, Item, Message
from accord.protocol import (
    ConversationItemAdded,
    ConversationItemCreate,
    ConversationItemDone,
    RemoteProtocolError,
    ResponseOutputAudioDelta,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputTextDelta,
    encode,
    item_from_wire,
    item_to_wire,
    parse_server_event,
)
from accord.protocol.fast import (
    AUDIO_DELTA,
    TEXT_DELTA,
    TRANSCRIPT_DELTA,
    decode_item_ack,
    decode_output_delta,
    encode_item_ack,
    encode_item_create,
    peek_delta,
)
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


_DELTA_TYPES = [
    "response.output_text.delta",
    "response.text.delta",
    "response.output_audio_transcript.delta",
    "response.audio_transcript.delta",
    "response.output_audio.delta",
    "response.audio.delta",
]
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def delta_frames(draw: st.DrawFn) -> str:
    """Delta frames, mostly well formed, sometimes with a field of the wrong type."""
    fields: dict[str, object] = {
        "type": draw(st.sampled_from(_DELTA_TYPES)),
        "event_id": draw(ids),
        "response_id": draw(ids),
        "item_id": draw(ids),
        "output_index": draw(st.integers(0, 3)),
        "content_index": draw(st.integers(0, 3)),
        "delta": draw(texts),
    }
    if draw(st.booleans()):
        broken = draw(st.sampled_from(sorted(k for k in fields if k != "type")))
        fields[broken] = draw(_JSON)
    return json.dumps(fields)


@settings(max_examples=400)
@given(delta_frames())
def test_the_fast_delta_decoder_agrees_with_the_validating_parser(frame: str) -> None:
    """Same fields when the parser takes the frame; None (the parser's turn to report
    it) whenever the parser refuses it. It may decline a frame the parser takes (then
    the parser reads it), never accept one the parser refuses."""
    fast = decode_output_delta(frame)
    try:
        event = parse_server_event(frame)
    except RemoteProtocolError:
        assert fast is None
        return
    if fast is not None:
        kind = fast.kind
        assert (fast.response_id, fast.item_id, fast.delta) == (
            event.response_id,
            event.item_id,
            event.delta,
        )  # type: ignore[union-attr]
        expected = {
            ResponseOutputTextDelta: TEXT_DELTA,
            ResponseOutputAudioTranscriptDelta: TRANSCRIPT_DELTA,
            ResponseOutputAudioDelta: AUDIO_DELTA,
        }[type(event)]
        assert kind == expected


def test_the_fast_delta_decoder_passes_on_everything_else() -> None:
    assert decode_output_delta('{"type":"response.done","event_id":"e","response":{}}') is None
    assert decode_output_delta('not json .delta"') is None
    assert decode_output_delta('{"type":"response.output_text.delta","delta":NaN}') is None


def test_what_msgspec_reads_differently_goes_to_the_validating_parser() -> None:
    """msgspec refuses numbers beyond a double and escaped lone surrogates, and the
    typed decoder anything but an object with the delta's fields: each such delta is
    left to the parser (whose ``json`` decoder reads it as before), never misread. An
    integer beyond 64 bits it reads as ``json`` does."""
    head = '{"type":"response.output_text.delta","event_id":"e","response_id":"r",'
    big = '"item_id":"i","output_index":123456789012345678901234567890,"content_index":0,'
    read = decode_output_delta(head + big + '"delta":"d"}')
    assert read is not None and (read.kind, read.modality, read.delta) == (TEXT_DELTA, "text", "d")
    for tail in (
        '"item_id":"i","output_index":0,"content_index":1e400,"delta":"d"}',
        '"item_id":"i","output_index":true,"content_index":0,"delta":"d"}',
        '"item_id":"i","output_index":0,"content_index":1.0,"delta":"d"}',
        '"item_id":null,"output_index":0,"content_index":0,"delta":"d"}',
        '"item_id":"i","output_index":0,"content_index":0,"delta":"\\ud800"}',
    ):
        assert decode_output_delta(head + tail) is None
    assert decode_output_delta('["response.output_text.delta"]') is None
    assert decode_output_delta('{"type":{"a":1},"x":".delta\\""}') is None
    core_frame = head + '"item_id":"i","output_index":0,"content_index":0,"delta":"\\ud800"}'
    event = parse_server_event(core_frame)  # the parser still reads it, as json does
    assert event.delta == "\ud800"  # type: ignore[union-attr]


def test_a_frame_nested_too_deeply_goes_to_the_validating_parser() -> None:
    """msgspec raises RecursionError on deep nesting (not one of its own errors): each
    reader returns None, and the parser reports the frame as too deep."""
    deep = '{"type": "response.output_text.delta", "x": ' + "[" * 5000 + "]" * 5000 + "}"
    assert decode_output_delta(deep) is None
    ack = '{"type": "conversation.item.added", "x": ' + "[" * 5000 + "]" * 5000 + "}"
    assert decode_item_ack(ack) is None
    assert peek_delta(deep) is None


_ANY_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300)
@given(_ANY_JSON, st.booleans())
def test_msgspec_reads_any_json_value_as_json_does(value: object, compact: bool) -> None:
    """The validating parser decodes with msgspec first and falls back on ``json`` only
    when msgspec refuses: so what msgspec accepts must read exactly as ``json`` reads it
    (floats to the same double, big integers, escapes, duplicate keys: the last wins)."""
    import msgspec

    text = json.dumps(value, separators=(",", ":") if compact else None, ensure_ascii=compact)
    assert msgspec.json.decode(text) == json.loads(text)
    assert repr(msgspec.json.decode(text)) == repr(json.loads(text))
    assert msgspec.json.decode('{"a":1,"a":2}') == json.loads('{"a":1,"a":2}')
