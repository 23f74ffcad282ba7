"""Every wire model survives encode -> parse unchanged, in both dialects."""

from __future__ import annotations

import base64
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from accord.protocol import (
    ClientEvent,
    Dialect,
    InputAudioBufferAppend,
    ResponseOutputAudioDelta,
    ServerEvent,
    encode,
    parse_client_event,
    parse_server_event,
    to_wire_dict,
)
from test_protocol_strategies import (
    audio_b64,
    client_events,
    counts,
    ids,
    server_events,
)

PROPERTY = settings(max_examples=60, deadline=None)  # per test: a profile would leak


@PROPERTY
@given(client_events())
def test_client_event_round_trip(event: ClientEvent) -> None:
    text = encode(event)
    assert parse_client_event(text) == event
    assert parse_client_event(text.encode("utf-8")) == event
    assert parse_client_event(json.loads(text)) == event


@PROPERTY
@given(client_events(beta=True))
def test_client_event_round_trip_through_beta_spelling(event: ClientEvent) -> None:
    beta = encode(event, dialect=Dialect.BETA)
    parsed = parse_client_event(beta, dialect=Dialect.BETA)
    # Parsing normalises to GA spelling (an assistant part generated as beta "text" comes
    # back as "output_text"), so compare on the wire: the beta text survives unchanged.
    assert json.loads(encode(parsed, dialect=Dialect.BETA)) == json.loads(beta)


@PROPERTY
@given(client_events())
def test_ga_client_events_are_unchanged_by_ga_respelling(event: ClientEvent) -> None:
    assert encode(event, dialect=Dialect.GA) == encode(event)


@PROPERTY
@given(server_events(other=True))
def test_server_event_round_trip(event: ServerEvent) -> None:
    text = encode(event)
    parsed = parse_server_event(text)
    assert parsed == event
    assert type(parsed) is type(event)


@PROPERTY
@given(server_events(beta=True, other=True))
def test_beta_server_event_round_trip_keeps_its_spelling(event: ServerEvent) -> None:
    parsed = parse_server_event(encode(event))
    assert parsed == event
    assert isinstance(parsed, ServerEvent)
    assert parsed.type == event.type
    assert parsed.dialect is not Dialect.GA


@PROPERTY
@given(server_events(beta=True))
def test_beta_server_events_respell_to_ga_and_back(event: ServerEvent) -> None:
    ga = parse_server_event(encode(event, dialect=Dialect.GA))
    assert isinstance(ga, ServerEvent)
    assert type(ga) is type(event)
    assert ga.dialect is not Dialect.BETA
    assert parse_server_event(encode(ga, dialect=Dialect.BETA)) == event


@PROPERTY
@given(client_events() | server_events())
def test_encoding_is_compact_json(event: ClientEvent | ServerEvent) -> None:
    text = encode(event)
    assert json.loads(text) == to_wire_dict(event)
    assert text == json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)


@PROPERTY
@given(st.binary(max_size=4096), ids)
def test_input_audio_is_byte_identical_after_a_round_trip(raw: bytes, event_id: str) -> None:
    payload = base64.b64encode(raw).decode("ascii")
    parsed = parse_client_event(encode(InputAudioBufferAppend(audio=payload, event_id=event_id)))
    assert isinstance(parsed, InputAudioBufferAppend)
    assert parsed.audio == payload
    assert base64.b64decode(parsed.audio) == raw


@PROPERTY
@given(audio_b64, ids, counts)
def test_output_audio_is_byte_identical_after_a_round_trip(
    payload: str, item_id: str, index: int
) -> None:
    event = ResponseOutputAudioDelta(
        event_id="ev",
        response_id="resp",
        item_id=item_id,
        output_index=index,
        content_index=0,
        delta=payload,
    )
    text = encode(event)
    assert f'"delta":"{payload}"' in text
    parsed = parse_server_event(text)
    assert isinstance(parsed, ResponseOutputAudioDelta)
    assert parsed.delta == payload


def test_a_large_audio_payload_passes_through_untouched() -> None:
    raw = bytes(range(256)) * 1024  # 256 KiB of PCM-like bytes
    payload = base64.b64encode(raw).decode("ascii")
    for dialect in (None, Dialect.GA, Dialect.BETA):
        text = encode(InputAudioBufferAppend(audio=payload), dialect=dialect)
        parsed = parse_client_event(text, dialect=dialect or Dialect.GA)
        assert isinstance(parsed, InputAudioBufferAppend)
        assert parsed.audio == payload
