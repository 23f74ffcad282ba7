"""The codec: dispatch, errors and who is blamed, null handling, extras, dialects."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.protocol import (
    CLIENT_EVENTS,
    SERVER_EVENT_CLASSES,
    SERVER_EVENTS,
    ConversationItemAdded,
    ConversationItemCreate,
    ConversationItemDone,
    ConversationItemTruncate,
    Dialect,
    ErrorDetail,
    ErrorEvent,
    FrameTooDeepError,
    InputAudioBufferCommitted,
    InputAudioTranscriptionDelta,
    InvalidEventError,
    InvalidJSONError,
    LocalProtocolError,
    MalformedEventError,
    OutputAudioPart,
    OutputTextPart,
    RemoteProtocolError,
    ResponseCancel,
    ResponseCreate,
    ResponseCreated,
    ResponseDone,
    ResponseFunctionCallArgumentsDone,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputItemAdded,
    ResponseOutputTextDelta,
    ResponseParams,
    SessionCreated,
    SessionUpdate,
    UnknownEvent,
    WireFunctionCall,
    WireMessage,
    WireResponse,
    encode,
    parse_client_event,
    parse_server_event,
    type_names,
)
from accord.protocol.fast import decode_item_ack
from accord.protocol.spellings import BETA_SERVER_EVENT_NAMES, GA_CONTENT_PART_TYPES

PROPERTY = settings(max_examples=60, deadline=None)  # per test: a profile would leak

# -- dispatch ---------------------------------------------------------------------------


def test_each_class_defaults_to_its_ga_name() -> None:
    for cls in SERVER_EVENT_CLASSES:
        names = type_names(cls)
        assert cls.model_fields["type"].default == names[0]
        assert all(SERVER_EVENTS[name] is cls for name in names)


def test_beta_names_map_to_the_class_of_their_ga_twin() -> None:
    for beta, ga in BETA_SERVER_EVENT_NAMES.items():
        assert SERVER_EVENTS[beta] is SERVER_EVENTS[ga]
        assert type_names(SERVER_EVENTS[ga])[0] == ga


def test_the_classes_accept_no_spelling_the_spelling_tables_do_not_list() -> None:
    for cls in SERVER_EVENT_CLASSES:
        ga, *others = type_names(cls)
        assert [BETA_SERVER_EVENT_NAMES[name] for name in others] == [ga] * len(others)
    for part in (OutputTextPart, OutputAudioPart):
        ga, beta = type_names(part)
        assert GA_CONTENT_PART_TYPES[ga] == beta


def test_the_two_tables_share_no_names() -> None:
    assert not set(CLIENT_EVENTS) & set(SERVER_EVENTS)


@pytest.mark.parametrize(
    ("parse", "event_type"),
    [
        (parse_server_event, "response.mcp_call.completed"),
        (parse_server_event, "transcription_session.updated"),
        (parse_server_event, "response.create"),  # a client event sent to a client
        (parse_client_event, "transcription_session.update"),
        (parse_client_event, "response.created"),  # a server event sent to a server
    ],
)
def test_unknown_types_are_never_parsed_into_another_class(parse: Any, event_type: str) -> None:
    raw = {"type": event_type, "event_id": "e1", "whatever": [1, {"x": None}]}
    event = parse(json.dumps(raw))
    assert event == UnknownEvent(event_type, raw)
    assert json.loads(encode(event)) == raw


# -- errors: the peer's fault -----------------------------------------------------------

TEXT_DELTA = {
    "type": "response.output_text.delta",
    "event_id": "e",
    "response_id": "r",
    "item_id": "i",
    "output_index": 0,
    "content_index": 0,
    "delta": "hi",
}


@pytest.mark.parametrize(
    ("data", "error", "event_type", "field"),
    [
        (b"\xff\xfe", InvalidJSONError, None, None),
        ("{not json", InvalidJSONError, None, None),
        ('{"type": "error", "x": NaN}', InvalidJSONError, None, None),
        ("[1, 2]", InvalidJSONError, None, None),
        ('"session.created"', InvalidJSONError, None, None),
        ("{}", MalformedEventError, None, "type"),
        ('{"type": 7}', MalformedEventError, None, "type"),
        ('{"type": ""}', MalformedEventError, None, "type"),
        ({**TEXT_DELTA, "delta": 5}, MalformedEventError, "response.output_text.delta", "delta"),
        (
            {k: v for k, v in TEXT_DELTA.items() if k != "event_id"},
            MalformedEventError,
            "response.output_text.delta",
            "event_id",
        ),
        (
            {
                "type": "conversation.item.added",
                "event_id": "e",
                "item": {"type": "message", "role": "user", "content": [{"type": "input_text"}]},
            },
            MalformedEventError,
            "conversation.item.added",
            "item.content.0.text",
        ),
        (
            {"type": "response.done", "event_id": "e", "response": {"id": "r", "status": "odd"}},
            MalformedEventError,
            "response.done",
            "response.status",
        ),
    ],
)
def test_garbage_from_the_server_is_a_remote_error(
    data: Any, error: type[Exception], event_type: str | None, field: str | None
) -> None:
    with pytest.raises(error) as caught:
        parse_server_event(data)
    assert isinstance(caught.value, RemoteProtocolError)
    assert isinstance(caught.value, MalformedEventError)
    assert caught.value.event_type == event_type
    assert caught.value.field == field
    if event_type:
        assert repr(event_type) in str(caught.value)
    if field:
        assert repr(field) in str(caught.value)


def test_garbage_from_a_client_names_the_bad_field() -> None:
    with pytest.raises(MalformedEventError) as caught:
        parse_client_event('{"type": "response.create", "response": {"modalities": ["text"]}}')
    assert caught.value.event_type == "response.create"
    assert caught.value.field == "response.modalities"
    with pytest.raises(MalformedEventError) as caught:
        parse_client_event('{"type": "conversation.item.truncate", "item_id": "a"}')
    assert caught.value.field == "content_index"
    with pytest.raises(MalformedEventError, match=r"session\.type"):
        parse_client_event('{"type": "session.update", "session": {"instructions": "x"}}')


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@PROPERTY
@given(
    st.sampled_from(sorted(SERVER_EVENTS) + sorted(CLIENT_EVENTS) + ["nope"]),
    st.dictionaries(st.text(max_size=12), json_values, max_size=6),
)
def test_only_remote_errors_escape_the_receive_path(event_type: str, body: dict[str, Any]) -> None:
    text = json.dumps({**body, "type": event_type})
    for parse in (parse_server_event, parse_client_event):
        with contextlib.suppress(RemoteProtocolError):
            parse(text)


def _deep(depth: int, event_type: str) -> str:
    nested = "[" * depth + "]" * depth
    return f'{{"type": "{event_type}", "event_id": "e1", "x": {nested}}}'


@pytest.mark.parametrize("depth", [1_000, 5_000, 100_000])
@pytest.mark.parametrize(
    "event_type", ["conversation.item.added", "response.output_text.delta", "nope"]
)
def test_a_frame_nested_too_deeply_is_a_malformed_frame_not_a_recursion_error(
    depth: int, event_type: str
) -> None:
    """A RecursionError escaped the decoder and froze the session (issue 15)."""
    frame = _deep(depth, event_type)
    for parse in (parse_server_event, parse_client_event):
        with pytest.raises(FrameTooDeepError) as caught:
            parse(frame)
        assert isinstance(caught.value, InvalidJSONError)
        assert isinstance(caught.value, RemoteProtocolError)
    assert decode_item_ack(frame) is None  # the fast path hands it to the parser


def test_fields_nested_too_deeply_for_validation_are_malformed() -> None:
    nested: Any = "x"
    for _ in range(400):
        nested = {"a": [nested]}
    frame = json.dumps({"type": "conversation.item.create", "item": nested})
    with contextlib.suppress(FrameTooDeepError, MalformedEventError):
        parse_client_event(frame)  # either error, never RecursionError


@PROPERTY
@given(st.binary(max_size=64))
def test_arbitrary_bytes_never_crash_the_parser(data: bytes) -> None:
    with contextlib.suppress(RemoteProtocolError):
        parse_server_event(data)


# -- errors: our fault ------------------------------------------------------------------


def test_building_an_invalid_event_is_a_local_error() -> None:
    with pytest.raises(InvalidEventError) as caught:
        ConversationItemTruncate(item_id="a", content_index=0, audio_end_ms=-5)
    assert isinstance(caught.value, LocalProtocolError)
    assert isinstance(caught.value, ValueError)
    assert "audio_end_ms" in str(caught.value)
    with pytest.raises(InvalidEventError, match="previous_itme_id"):
        ConversationItemCreate(
            item=WireFunctionCall(call_id="c", name="n"),
            previous_itme_id="typo",  # type: ignore[call-arg]
        )
    with pytest.raises(InvalidEventError, match=r"session\.type"):
        SessionUpdate(session={"instructions": "x"})


def test_encoding_what_cannot_be_spelled_is_a_local_error() -> None:
    item = WireMessage(id="m", role="user")
    with pytest.raises(LocalProtocolError, match="no beta spelling"):
        encode(ConversationItemDone(event_id="e", item=item), dialect=Dialect.BETA)
    with pytest.raises(LocalProtocolError, match="no beta spelling"):
        encode(SessionUpdate(session={"type": "transcription"}), dialect=Dialect.BETA)
    rate_16k = {
        "type": "realtime",
        "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}},
    }
    with pytest.raises(LocalProtocolError, match="24 kHz"):
        encode(SessionUpdate(session=rate_16k), dialect=Dialect.BETA)
    with pytest.raises(LocalProtocolError, match="not an event"):
        encode({"type": "response.create"})  # type: ignore[arg-type]


def test_events_are_frozen() -> None:
    event = ResponseCancel(response_id="r")
    with pytest.raises(ValueError, match="frozen"):
        event.response_id = "other"  # type: ignore[misc]


# -- nulls: absent vs meaningful --------------------------------------------------------


def test_client_events_omit_every_unset_field() -> None:
    assert encode(ResponseCancel()) == '{"type":"response.cancel"}'
    assert encode(ResponseCreate()) == '{"type":"response.create"}'
    create = ConversationItemCreate(item=WireFunctionCall(call_id="c", name="n", arguments="{}"))
    assert encode(create) == (
        '{"type":"conversation.item.create",'
        '"item":{"type":"function_call","call_id":"c","name":"n","arguments":"{}"}}'
    )


def test_nulls_inside_a_session_are_sent() -> None:
    off = SessionUpdate(session={"type": "realtime", "audio": {"input": {"turn_detection": None}}})
    assert '"turn_detection":null' in encode(off)
    assert '"turn_detection":null' in encode(off, dialect=Dialect.BETA)


def test_server_events_keep_the_nulls_that_mean_something() -> None:
    first = ConversationItemAdded(event_id="e", item=WireMessage(id="m", role="user"))
    assert '"previous_item_id":null' in encode(first)
    committed = InputAudioBufferCommitted(event_id="e", item_id="u")
    assert '"previous_item_id":null' in encode(committed)
    error = ErrorEvent(event_id="e", error=ErrorDetail(type="invalid_request_error", message="m"))
    assert json.loads(encode(error))["error"] == {
        "type": "invalid_request_error",
        "message": "m",
        "code": None,
        "param": None,
        "event_id": None,
    }
    created = ResponseCreated(event_id="e", response=WireResponse(id="r", status="in_progress"))
    assert json.loads(encode(created))["response"] == {
        "id": "r",
        "status": "in_progress",
        "status_details": None,
        "output": [],
        "conversation_id": None,
        "metadata": None,
        "usage": None,
    }


def test_unknown_server_fields_survive_and_unknown_client_fields_do_not() -> None:
    wire = {**TEXT_DELTA, "obfuscation": "Xy3", "future_field": {"a": None}}
    event = parse_server_event(wire)
    assert isinstance(event, ResponseOutputTextDelta)
    assert event.model_extra == {"obfuscation": "Xy3", "future_field": {"a": None}}
    assert json.loads(encode(event)) == wire
    with pytest.raises(MalformedEventError) as caught:
        parse_client_event('{"type": "input_audio_buffer.commit", "obfuscation": "x"}')
    assert caught.value.field == "obfuscation"


# -- a recorded-shape GA response, and the beta dialect ---------------------------------

GA_FLOW = [
    '{"type":"response.created","event_id":"event_1","response":{"object":"realtime.response",'
    '"id":"resp_1","status":"in_progress","status_details":null,"output":[],'
    '"conversation_id":"conv_1","output_modalities":["audio"],"max_output_tokens":"inf",'
    '"audio":{"output":{"format":{"type":"audio/pcm","rate":24000},"voice":"marin"}},'
    '"usage":null,"metadata":{"topic":"weather"}}}',
    '{"type":"response.output_item.added","event_id":"event_2","response_id":"resp_1",'
    '"output_index":0,"item":{"id":"item_1","type":"function_call","status":"in_progress",'
    '"name":"get_weather","call_id":"call_1","arguments":""}}',
    '{"type":"conversation.item.added","event_id":"event_3","previous_item_id":"item_0",'
    '"item":{"id":"item_1","type":"function_call","status":"in_progress",'
    '"name":"get_weather","call_id":"call_1","arguments":""}}',
    '{"type":"response.function_call_arguments.done","event_id":"event_4",'
    '"response_id":"resp_1","item_id":"item_1","output_index":0,"call_id":"call_1",'
    '"name":"get_weather","arguments":"{\\"city\\":\\"Oslo\\"}"}',
    '{"type":"conversation.item.input_audio_transcription.delta","event_id":"event_5",'
    '"item_id":"item_0","content_index":0,"delta":" Weather","obfuscation":"kR"}',
    '{"type":"response.done","event_id":"event_6","response":{"object":"realtime.response",'
    '"id":"resp_1","status":"completed","status_details":null,"output":[{"id":"item_1",'
    '"type":"function_call","status":"completed","name":"get_weather","call_id":"call_1",'
    '"arguments":"{\\"city\\":\\"Oslo\\"}"}],"conversation_id":"conv_1",'
    '"usage":{"total_tokens":12},"metadata":{"topic":"weather"}}}',
]


def test_a_ga_response_parses_to_typed_events() -> None:
    events = [parse_server_event(text) for text in GA_FLOW]
    assert [type(event) for event in events] == [
        ResponseCreated,
        ResponseOutputItemAdded,
        ConversationItemAdded,
        ResponseFunctionCallArgumentsDone,
        InputAudioTranscriptionDelta,
        ResponseDone,
    ]
    created, _, conv_added, args_done, _, done = events
    assert isinstance(created, ResponseCreated)
    assert created.response.metadata == {"topic": "weather"}
    assert isinstance(conv_added, ConversationItemAdded)
    assert conv_added.previous_item_id == "item_0"
    assert isinstance(conv_added.item, WireFunctionCall)
    assert isinstance(args_done, ResponseFunctionCallArgumentsDone)
    assert json.loads(args_done.arguments) == {"city": "Oslo"}
    assert isinstance(done, ResponseDone)
    assert done.response.status == "completed"
    assert done.response.output[0] == WireFunctionCall(
        id="item_1", status="completed", name="get_weather", call_id="call_1",
        arguments='{"city":"Oslo"}',
    )  # fmt: skip
    assert all(event.dialect is not Dialect.BETA for event in events)  # type: ignore[union-attr]
    assert [json.loads(encode(e)) for e in events] == [json.loads(text) for text in GA_FLOW]


def test_beta_events_parse_to_the_same_classes_and_remember_their_dialect() -> None:
    created = parse_server_event(
        '{"type":"conversation.item.created","event_id":"e","previous_item_id":null,'
        '"item":{"id":"m","object":"realtime.item","type":"message","role":"assistant",'
        '"status":"completed","content":[{"type":"text","text":"hi"}]}}'
    )
    assert isinstance(created, ConversationItemAdded)
    assert created.dialect is Dialect.BETA
    assert created.item == WireMessage(
        id="m",
        object="realtime.item",
        role="assistant",
        status="completed",
        content=(OutputTextPart(type="text", text="hi"),),
    )
    transcript = parse_server_event(
        '{"type":"response.audio_transcript.delta","event_id":"e","response_id":"r",'
        '"item_id":"m","output_index":0,"content_index":0,"delta":"he"}'
    )
    assert isinstance(transcript, ResponseOutputAudioTranscriptDelta)
    assert transcript.dialect is Dialect.BETA
    session = parse_server_event(
        '{"type":"session.created","event_id":"e","session":{"id":"s","modalities":["text"]}}'
    )
    assert isinstance(session, SessionCreated)
    assert session.dialect is Dialect.BETA
    ga_session = SessionCreated(event_id="e", session={"type": "realtime"})
    assert ga_session.dialect is Dialect.GA
    assert ConversationItemAdded(event_id="e", item=WireMessage(role="user")).dialect is Dialect.GA
    assert ResponseCancel().type == "response.cancel"
    shared = parse_server_event('{"type":"input_audio_buffer.cleared","event_id":"e"}')
    assert shared.dialect is None  # type: ignore[union-attr]


def test_a_beta_client_is_understood_in_ga_terms() -> None:
    update = parse_client_event(
        '{"type":"session.update","session":{"modalities":["text","audio"],"voice":"alloy",'
        '"input_audio_format":"g711_ulaw","turn_detection":null,'
        '"max_response_output_tokens":200,"instructions":"hi"}}',
        dialect=Dialect.BETA,
    )
    assert update == SessionUpdate(
        session={
            "type": "realtime",
            "output_modalities": ["audio"],
            "max_output_tokens": 200,
            "instructions": "hi",
            "audio": {
                "input": {"format": {"type": "audio/pcmu"}, "turn_detection": None},
                "output": {"voice": "alloy"},
            },
        }
    )
    create = parse_client_event(
        '{"type":"response.create","response":{"modalities":["text"],"conversation":"none",'
        '"input":[{"type":"message","role":"assistant","content":[{"type":"text","text":"x"}]},'
        '{"type":"item_reference","id":"m1"}],"metadata":{"k":"v"}}}',
        dialect=Dialect.BETA,
    )
    assert isinstance(create, ResponseCreate)
    assert create.response is not None
    assert create.response.out_of_band
    assert create.response.output_modalities == ("text",)
    assert create.response.input is not None
    assert create.response.input[0] == WireMessage(
        role="assistant", content=(OutputTextPart(text="x"),)
    )
    assert json.loads(encode(create, dialect=Dialect.BETA))["response"]["modalities"] == ["text"]


def test_response_params_beta_spelling() -> None:
    params = ResponseParams(
        output_modalities=("audio",),
        max_output_tokens=50,
        audio={"output": {"voice": "verse", "format": {"type": "audio/pcma"}}},
        instructions="x",
    )
    beta = json.loads(encode(ResponseCreate(response=params), dialect=Dialect.BETA))
    assert beta["response"] == {
        "modalities": ["text", "audio"],
        "max_response_output_tokens": 50,
        "voice": "verse",
        "output_audio_format": "g711_alaw",
        "instructions": "x",
    }
