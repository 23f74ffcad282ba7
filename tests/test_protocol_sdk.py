"""The official SDK as an oracle: everything accord encodes validates against its types.

The SDK's unions are discriminated by a marker pydantic does not read, so validating
against them is a plain smart union: an event that fails its own model could still be
accepted as some other one. Each check therefore also asserts that the model the SDK
picked has the event's ``type``.
"""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.beta.realtime import RealtimeClientEvent as BetaClientEvent
from openai.types.beta.realtime import RealtimeServerEvent as BetaServerEvent
from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
from openai.types.realtime.response_create_event_with_references_param import (
    ResponseCreateEventWithReferencesParam,
)
from pydantic import TypeAdapter

from accord.protocol import (
    CLIENT_EVENTS,
    SERVER_EVENTS,
    ClientEvent,
    Dialect,
    ResponseCreate,
    ResponseOutputTextDelta,
    ResponseParams,
    ServerEvent,
    SessionUpdate,
    encode,
    parse_server_event,
)
from test_protocol_strategies import (
    GA_SESSIONS,
    client_event_strategies,
    client_events,
    item_references,
    server_event_strategies,
    server_events,
)

PROPERTY = settings(max_examples=60, deadline=None)  # per test: a profile would leak

CLIENT_STRATEGIES = client_event_strategies(refs=False)
SERVER_STRATEGIES = server_event_strategies()

GA_CLIENT = TypeAdapter(RealtimeClientEvent)
GA_SERVER = TypeAdapter(RealtimeServerEvent)
BETA_CLIENT = TypeAdapter(BetaClientEvent)
BETA_SERVER = TypeAdapter(BetaServerEvent)
GA_CREATE_WITH_REFERENCES = TypeAdapter(ResponseCreateEventWithReferencesParam)


def sdk_types(union: Any) -> set[str]:
    """Every ``type`` literal of an SDK event union."""
    members = get_args(get_args(union)[0])
    return {name for model in members for name in get_args(model.model_fields["type"].annotation)}


def assert_sdk_accepts(adapter: TypeAdapter[Any], text: str) -> None:
    wire = json.loads(text)
    parsed = adapter.validate_python(wire)
    assert parsed.type == wire["type"], f"SDK parsed {wire['type']!r} as {type(parsed).__name__}"


# -- coverage of the dispatch tables -----------------------------------------------------


def test_client_table_matches_the_sdk_client_union() -> None:
    assert set(CLIENT_EVENTS) == sdk_types(RealtimeClientEvent)


def test_server_table_covers_the_sdk_server_union() -> None:
    deliberately_unknown = {
        # MCP tools, DTMF and diarized segments are outside what accord handles: they
        # parse as UnknownEvent.
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        "mcp_list_tools.failed",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.mcp_call.failed",
        "input_audio_buffer.dtmf_event_received",
        "conversation.item.input_audio_transcription.segment",
    }
    ga = sdk_types(RealtimeServerEvent)
    assert ga - deliberately_unknown <= set(SERVER_EVENTS)
    assert deliberately_unknown <= ga
    assert not deliberately_unknown & set(SERVER_EVENTS)


def test_every_name_we_accept_is_known_to_one_of_the_sdk_unions() -> None:
    known = sdk_types(RealtimeServerEvent) | sdk_types(BetaServerEvent)
    assert set(SERVER_EVENTS) <= known


# -- GA ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", list(CLIENT_STRATEGIES), ids=lambda c: c.__name__)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_every_client_event_validates_against_the_sdk(cls: type[Any], data: st.DataObject) -> None:
    # Item references are valid in response.create (see the next test) but the SDK's
    # event model types `input` without them.
    event = data.draw(CLIENT_STRATEGIES[cls])
    assert_sdk_accepts(GA_CLIENT, encode(event))


@PROPERTY
@given(item_references)
def test_response_create_with_item_references_validates_against_the_sdk_param(
    reference: Any,
) -> None:
    event = ResponseCreate(response=ResponseParams(conversation="none", input=(reference,)))
    GA_CREATE_WITH_REFERENCES.validate_python(json.loads(encode(event)))


@pytest.mark.parametrize("cls", list(SERVER_STRATEGIES), ids=lambda c: c.__name__)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_every_server_event_validates_against_the_sdk(cls: type[Any], data: st.DataObject) -> None:
    event = data.draw(SERVER_STRATEGIES[cls])
    assert_sdk_accepts(GA_SERVER, encode(event))


def test_the_sdk_builds_the_wrong_model_for_a_name_it_lacks_and_we_do_not() -> None:
    # Why the class check above matters (docs/protocol-notes.md: "the SDK parses an unknown
    # event type into some other model silently"): the SDK's receive path builds a model
    # whose own type literal is not the event's type.
    from openai._models import construct_type

    wire = {
        "type": "response.text.delta",
        "event_id": "e",
        "response_id": "r",
        "item_id": "i",
        "output_index": 0,
        "content_index": 0,
        "delta": "hi",
    }
    built = construct_type(value=wire, type_=RealtimeServerEvent)
    assert wire["type"] not in get_args(type(built).model_fields["type"].annotation)
    ours = parse_server_event(wire)
    assert isinstance(ours, ResponseOutputTextDelta)
    assert ours.dialect is Dialect.BETA


# -- beta -------------------------------------------------------------------------------


@PROPERTY
@given(client_events(beta=True))
def test_client_events_in_beta_spelling_validate_against_the_beta_sdk(event: ClientEvent) -> None:
    assert_sdk_accepts(BETA_CLIENT, encode(event, dialect=Dialect.BETA))


@pytest.mark.parametrize("session", GA_SESSIONS, ids=range(len(GA_SESSIONS)))
def test_session_update_in_both_spellings(session: dict[str, Any]) -> None:
    event = SessionUpdate(session=session)
    assert_sdk_accepts(GA_CLIENT, encode(event))
    beta = encode(event, dialect=Dialect.BETA)
    assert "type" not in json.loads(beta)["session"]
    assert_sdk_accepts(BETA_CLIENT, beta)


@PROPERTY
@given(server_events(beta=True))
def test_beta_server_events_validate_against_the_beta_sdk(event: ServerEvent) -> None:
    text = encode(event)
    if json.loads(text)["type"] not in sdk_types(BetaServerEvent):
        return  # a GA-only addition, e.g. input_audio_buffer.timeout_triggered
    assert event.dialect is not Dialect.GA
    assert_sdk_accepts(BETA_SERVER, text)


@PROPERTY
@given(server_events())
def test_ga_server_events_respelled_for_beta_validate_against_the_beta_sdk(
    event: ServerEvent,
) -> None:
    if event.type == "conversation.item.done":
        return  # no beta spelling (encode refuses it; tested elsewhere)
    text = encode(event, dialect=Dialect.BETA)
    if json.loads(text)["type"] not in sdk_types(BetaServerEvent):
        return
    wire = json.loads(text)
    if any(
        part.get("type") == "input_image"
        for item in [wire.get("item"), *(wire.get("response") or {}).get("output", [])]
        if isinstance(item, dict)
        for part in item.get("content", [])
    ):
        return  # beta had no image parts
    assert_sdk_accepts(BETA_SERVER, text)
