"""Hypothesis strategies for every wire model of accord.protocol.

Shared by the other test_protocol_* files. The values are kept inside what the official
SDK's schema accepts (GA by default, beta when asked), so the same strategies feed the
round-trip tests and the SDK-oracle tests.
"""

from __future__ import annotations

import base64
import string
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from accord.protocol import (
    CLIENT_EVENT_CLASSES,
    SERVER_EVENT_CLASSES,
    ClientEvent,
    ConversationCreated,
    ConversationItemAdded,
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemDeleted,
    ConversationItemDone,
    ConversationItemRetrieve,
    ConversationItemRetrieved,
    ConversationItemTruncate,
    ConversationItemTruncated,
    ErrorDetail,
    ErrorEvent,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCleared,
    InputAudioBufferCommit,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioBufferTimeoutTriggered,
    InputAudioPart,
    InputAudioTranscriptionCompleted,
    InputAudioTranscriptionDelta,
    InputAudioTranscriptionFailed,
    InputImagePart,
    InputTextPart,
    OutputAudioBufferClear,
    OutputAudioBufferCleared,
    OutputAudioBufferStarted,
    OutputAudioBufferStopped,
    OutputAudioPart,
    OutputTextPart,
    RateLimitsUpdated,
    ResponseCancel,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseCreate,
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
    ResponseParams,
    ResponsePart,
    ServerEvent,
    SessionCreated,
    SessionUpdate,
    SessionUpdated,
    WireFunctionCall,
    WireFunctionCallOutput,
    WireItemReference,
    WireMcpApprovalRequest,
    WireMcpCall,
    WireMcpListTools,
    WireMessage,
    WireOtherItem,
    WireResponse,
)

S = st.SearchStrategy

#: Per-test settings, not a profile: loading a profile would change every other module's
#: hypothesis tests in the same run. No deadline: the first example pays for schema builds.
PROPERTY = settings(max_examples=60, deadline=None)


def opt(strategy: S[Any]) -> S[Any]:
    return st.none() | strategy


ids = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=32)
texts = st.text(max_size=30)
counts = st.integers(min_value=0, max_value=100_000)
audio_b64 = st.binary(max_size=48).map(lambda raw: base64.b64encode(raw).decode("ascii"))
statuses = st.sampled_from(["completed", "incomplete", "in_progress"])

# -- items ------------------------------------------------------------------------------


def parts_for(role: str, *, beta: bool = False, images: bool = True) -> S[Any]:
    """Content parts a message of ``role`` may carry, in GA or beta spelling."""
    text_part = st.builds(InputTextPart, text=texts)
    if role == "system":
        return text_part
    if role == "user":
        audio = st.builds(InputAudioPart, audio=opt(audio_b64), transcript=opt(texts))
        image = st.builds(
            InputImagePart,
            image_url=opt(st.just("data:image/png;base64,AAAA")),
            detail=opt(st.sampled_from(["auto", "low", "high"])),
        )
        return text_part | audio | image if images else text_part | audio
    text_type, audio_type = ("text", "audio") if beta else ("output_text", "output_audio")
    return st.builds(OutputTextPart, type=st.just(text_type), text=texts) | st.builds(
        OutputAudioPart, type=st.just(audio_type), audio=opt(audio_b64), transcript=opt(texts)
    )


def messages(*, beta: bool = False, images: bool = True, assistant_audio: bool = True) -> S[Any]:
    def build(role: str) -> S[Any]:
        parts = parts_for(role, beta=beta, images=images)
        if role == "assistant" and not assistant_audio:
            parts = parts.filter(lambda part: isinstance(part, OutputTextPart))
        return st.builds(
            WireMessage,
            id=opt(ids),
            role=st.just(role),
            content=st.lists(parts, max_size=3).map(tuple),
            status=opt(statuses),
            object=opt(st.just("realtime.item")),
        )

    return st.sampled_from(["system", "user", "assistant"]).flatmap(build)


function_calls = st.builds(
    WireFunctionCall,
    id=opt(ids),
    call_id=ids,
    name=ids,
    arguments=texts,
    status=opt(statuses),
    object=opt(st.just("realtime.item")),
)
function_call_outputs = st.builds(
    WireFunctionCallOutput, id=opt(ids), call_id=ids, output=texts, status=opt(statuses)
)
item_references = st.builds(WireItemReference, id=ids)
other_items = (
    st.builds(WireMcpListTools, id=ids, server_label=texts)
    | st.builds(
        WireMcpCall,
        id=ids,
        server_label=texts,
        name=texts,
        arguments=texts,
        output=opt(texts),
    )
    | st.builds(WireMcpApprovalRequest, id=ids, server_label=texts, name=texts, arguments=texts)
    | st.builds(WireOtherItem, type=st.just("file_search_call"), id=ids)
)


def wire_items(**message_options: bool) -> S[Any]:
    return messages(**message_options) | function_calls | function_call_outputs


# -- client events ----------------------------------------------------------------------

TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}

#: GA session objects for session.update (each has a beta spelling, see spellings.py).
GA_SESSIONS: list[dict[str, Any]] = [
    {"type": "realtime"},
    {"type": "realtime", "instructions": "Be brief.", "output_modalities": ["text"]},
    {
        "type": "realtime",
        "output_modalities": ["audio"],
        "max_output_tokens": 400,
        "tools": [TOOL],
        "tool_choice": "auto",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "turn_detection": None,
                "transcription": {"model": "whisper-1"},
            },
            "output": {"voice": "alloy", "format": {"type": "audio/pcmu"}},
        },
    },
    {
        "type": "realtime",
        "audio": {
            "input": {
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "silence_duration_ms": 500,
                    "create_response": True,
                },
                "noise_reduction": {"type": "near_field"},
            },
            "output": {"speed": 1.1},
        },
    },
]


def response_params(*, refs: bool = True, beta: bool = False) -> S[Any]:
    """``response.create`` params; ``beta`` keeps to what the beta schema can express."""
    inputs = wire_items(images=not beta, assistant_audio=not beta)
    if refs:
        inputs = inputs | item_references
    choices = st.sampled_from(["auto", "none", "required"])
    if not beta:
        choices = choices | st.just({"type": "function", "name": "get_weather"})
    return st.builds(
        ResponseParams,
        conversation=opt(st.sampled_from(["auto", "none"])),
        input=opt(st.lists(inputs, max_size=3).map(tuple)),
        instructions=opt(texts),
        metadata=opt(st.dictionaries(ids, texts, max_size=3)),
        output_modalities=opt(st.sampled_from([("text",), ("audio",)])),
        tools=opt(st.lists(st.just(TOOL), max_size=2).map(tuple)),
        tool_choice=opt(choices),
        max_output_tokens=opt(st.integers(1, 4096) | st.just("inf")),
        parallel_tool_calls=st.none() if beta else opt(st.booleans()),
        audio=opt(st.just({"output": {"voice": "alloy"}})),
    )


def client_event_strategies(*, refs: bool = True, beta: bool = False) -> dict[type[Any], S[Any]]:
    event_ids = opt(ids)
    return {
        SessionUpdate: st.builds(
            SessionUpdate, event_id=event_ids, session=st.sampled_from(GA_SESSIONS)
        ),
        InputAudioBufferAppend: st.builds(
            InputAudioBufferAppend, event_id=event_ids, audio=audio_b64
        ),
        InputAudioBufferCommit: st.builds(InputAudioBufferCommit, event_id=event_ids),
        InputAudioBufferClear: st.builds(InputAudioBufferClear, event_id=event_ids),
        OutputAudioBufferClear: st.builds(OutputAudioBufferClear, event_id=event_ids),
        ConversationItemCreate: st.builds(
            ConversationItemCreate,
            event_id=event_ids,
            item=wire_items(beta=beta, images=not beta),
            previous_item_id=opt(ids | st.just("root")),
        ),
        ConversationItemRetrieve: st.builds(
            ConversationItemRetrieve, event_id=event_ids, item_id=ids
        ),
        ConversationItemTruncate: st.builds(
            ConversationItemTruncate,
            event_id=event_ids,
            item_id=ids,
            content_index=st.integers(0, 3),
            audio_end_ms=counts,
        ),
        ConversationItemDelete: st.builds(ConversationItemDelete, event_id=event_ids, item_id=ids),
        ResponseCreate: st.builds(
            ResponseCreate, event_id=event_ids, response=opt(response_params(refs=refs, beta=beta))
        ),
        ResponseCancel: st.builds(ResponseCancel, event_id=event_ids, response_id=opt(ids)),
    }


def client_events(*, refs: bool = True, beta: bool = False) -> S[ClientEvent]:
    return st.one_of(*client_event_strategies(refs=refs, beta=beta).values())


# -- server events ----------------------------------------------------------------------

GA_SERVER_SESSION = {
    "type": "realtime",
    "object": "realtime.session",
    "id": "sess_C9Gk2",
    "model": "gpt-realtime",
    "expires_at": 1_760_000_000,
    "output_modalities": ["audio"],
    "instructions": "",
    "tools": [],
    "tool_choice": "auto",
    "max_output_tokens": "inf",
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "transcription": None,
            "noise_reduction": None,
            "turn_detection": {"type": "server_vad", "threshold": 0.5},
        },
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin", "speed": 1},
    },
}
BETA_SERVER_SESSION = {
    "id": "sess_001",
    "object": "realtime.session",
    "model": "gpt-4o-realtime-preview",
    "modalities": ["text", "audio"],
    "voice": "alloy",
    "input_audio_format": "pcm16",
    "output_audio_format": "pcm16",
    "turn_detection": None,
    "max_response_output_tokens": "inf",
}

#: The beta spelling of each renamed event class.
BETA_NAMES: dict[type[Any], str] = {
    ConversationItemAdded: "conversation.item.created",
    ResponseOutputTextDelta: "response.text.delta",
    ResponseOutputTextDone: "response.text.done",
    ResponseOutputAudioDelta: "response.audio.delta",
    ResponseOutputAudioDone: "response.audio.done",
    ResponseOutputAudioTranscriptDelta: "response.audio_transcript.delta",
    ResponseOutputAudioTranscriptDone: "response.audio_transcript.done",
}


def server_items(*, beta: bool = False, other: bool = False) -> S[Any]:
    items = wire_items(beta=beta, images=not beta)
    return items | other_items if other else items


def wire_responses(*, beta: bool = False, other: bool = False) -> S[Any]:
    return st.builds(
        WireResponse,
        id=ids,
        object=opt(st.just("realtime.response")),
        status=st.sampled_from(["in_progress", "completed", "cancelled", "incomplete", "failed"]),
        status_details=opt(
            st.sampled_from(
                [
                    {"type": "cancelled", "reason": "client_cancelled"},
                    {"type": "incomplete", "reason": "max_output_tokens"},
                    {"type": "failed", "error": {"type": "server_error", "code": "x"}},
                ]
            )
        ),
        output=st.lists(server_items(beta=beta, other=other), max_size=3).map(tuple),
        conversation_id=opt(ids),
        output_modalities=st.none() if beta else opt(st.sampled_from([("text",), ("audio",)])),
        max_output_tokens=opt(st.integers(1, 4096) | st.just("inf")),
        metadata=opt(st.dictionaries(ids, texts, max_size=2)),
        usage=opt(st.just({"total_tokens": 10, "input_tokens": 4, "output_tokens": 6})),
    )


def server_event_strategies(*, beta: bool = False, other: bool = False) -> dict[type[Any], S[Any]]:
    """One strategy per server event class (beta: beta names, items and sessions)."""
    e = ids  # every server event has an event_id
    items = server_items(beta=beta, other=other)
    session = st.just(BETA_SERVER_SESSION if beta else GA_SERVER_SESSION)
    content = {
        "event_id": e,
        "response_id": ids,
        "item_id": ids,
        "output_index": st.integers(0, 5),
        "content_index": st.integers(0, 3),
    }
    part = st.builds(
        ResponsePart,
        type=st.sampled_from(["text", "audio"]),
        text=opt(texts),
        audio=opt(audio_b64),
        transcript=opt(texts),
    )
    usage = st.sampled_from(
        [
            {"type": "duration", "seconds": 1.5},
            {"type": "tokens", "input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
        ]
    )
    rate_limit = st.fixed_dictionaries(
        {
            "name": st.sampled_from(["requests", "tokens"]),
            "limit": counts,
            "remaining": counts,
            "reset_seconds": st.floats(0, 60),
        }
    )
    strategies: dict[type[Any], S[Any]] = {
        ErrorEvent: st.builds(
            ErrorEvent,
            event_id=e,
            error=st.builds(
                ErrorDetail,
                type=st.sampled_from(["invalid_request_error", "server_error"]),
                message=texts,
                code=opt(ids),
                param=opt(ids),
                event_id=opt(ids),
            ),
        ),
        SessionCreated: st.builds(SessionCreated, event_id=e, session=session),
        SessionUpdated: st.builds(SessionUpdated, event_id=e, session=session),
        ConversationCreated: st.builds(
            ConversationCreated,
            event_id=e,
            conversation=st.just({"id": "conv_1", "object": "realtime.conversation"}),
        ),
        ConversationItemAdded: st.builds(
            ConversationItemAdded, event_id=e, previous_item_id=opt(ids), item=items
        ),
        ConversationItemDone: st.builds(
            ConversationItemDone, event_id=e, previous_item_id=opt(ids), item=items
        ),
        ConversationItemRetrieved: st.builds(ConversationItemRetrieved, event_id=e, item=items),
        ConversationItemDeleted: st.builds(ConversationItemDeleted, event_id=e, item_id=ids),
        ConversationItemTruncated: st.builds(
            ConversationItemTruncated,
            event_id=e,
            item_id=ids,
            content_index=st.integers(0, 3),
            audio_end_ms=counts,
        ),
        InputAudioTranscriptionDelta: st.builds(
            InputAudioTranscriptionDelta,
            event_id=e,
            item_id=ids,
            content_index=st.integers(0, 3),
            delta=texts,
        ),
        InputAudioTranscriptionCompleted: st.builds(
            InputAudioTranscriptionCompleted,
            event_id=e,
            item_id=ids,
            content_index=st.integers(0, 3),
            transcript=texts,
            usage=usage,
        ),
        InputAudioTranscriptionFailed: st.builds(
            InputAudioTranscriptionFailed,
            event_id=e,
            item_id=ids,
            content_index=st.integers(0, 3),
            error=st.just({"type": "transcription_error", "code": "x", "message": "no speech"}),
        ),
        InputAudioBufferCommitted: st.builds(
            InputAudioBufferCommitted, event_id=e, item_id=ids, previous_item_id=opt(ids)
        ),
        InputAudioBufferCleared: st.builds(InputAudioBufferCleared, event_id=e),
        InputAudioBufferSpeechStarted: st.builds(
            InputAudioBufferSpeechStarted, event_id=e, item_id=ids, audio_start_ms=counts
        ),
        InputAudioBufferSpeechStopped: st.builds(
            InputAudioBufferSpeechStopped, event_id=e, item_id=ids, audio_end_ms=counts
        ),
        InputAudioBufferTimeoutTriggered: st.builds(
            InputAudioBufferTimeoutTriggered,
            event_id=e,
            item_id=ids,
            audio_start_ms=counts,
            audio_end_ms=counts,
        ),
        OutputAudioBufferStarted: st.builds(OutputAudioBufferStarted, event_id=e, response_id=ids),
        OutputAudioBufferStopped: st.builds(OutputAudioBufferStopped, event_id=e, response_id=ids),
        OutputAudioBufferCleared: st.builds(OutputAudioBufferCleared, event_id=e, response_id=ids),
        ResponseCreated: st.builds(
            ResponseCreated, event_id=e, response=wire_responses(beta=beta, other=other)
        ),
        ResponseDone: st.builds(
            ResponseDone, event_id=e, response=wire_responses(beta=beta, other=other)
        ),
        ResponseOutputItemAdded: st.builds(
            ResponseOutputItemAdded,
            event_id=e,
            response_id=ids,
            output_index=st.integers(0, 5),
            item=items,
        ),
        ResponseOutputItemDone: st.builds(
            ResponseOutputItemDone,
            event_id=e,
            response_id=ids,
            output_index=st.integers(0, 5),
            item=items,
        ),
        ResponseContentPartAdded: st.builds(ResponseContentPartAdded, part=part, **content),
        ResponseContentPartDone: st.builds(ResponseContentPartDone, part=part, **content),
        ResponseOutputTextDelta: st.builds(ResponseOutputTextDelta, delta=texts, **content),
        ResponseOutputTextDone: st.builds(ResponseOutputTextDone, text=texts, **content),
        ResponseOutputAudioDelta: st.builds(ResponseOutputAudioDelta, delta=audio_b64, **content),
        ResponseOutputAudioDone: st.builds(ResponseOutputAudioDone, **content),
        ResponseOutputAudioTranscriptDelta: st.builds(
            ResponseOutputAudioTranscriptDelta, delta=texts, **content
        ),
        ResponseOutputAudioTranscriptDone: st.builds(
            ResponseOutputAudioTranscriptDone, transcript=texts, **content
        ),
        ResponseFunctionCallArgumentsDelta: st.builds(
            ResponseFunctionCallArgumentsDelta,
            event_id=e,
            response_id=ids,
            item_id=ids,
            output_index=st.integers(0, 5),
            call_id=ids,
            delta=texts,
        ),
        ResponseFunctionCallArgumentsDone: st.builds(
            ResponseFunctionCallArgumentsDone,
            event_id=e,
            response_id=ids,
            item_id=ids,
            output_index=st.integers(0, 5),
            call_id=ids,
            arguments=texts,
            name=ids,
        ),
        RateLimitsUpdated: st.builds(
            RateLimitsUpdated,
            event_id=e,
            rate_limits=st.lists(rate_limit, max_size=2).map(tuple),
        ),
    }
    if beta:
        del strategies[ConversationItemDone]  # GA only: beta has no such event
        for cls, name in BETA_NAMES.items():
            strategies[cls] = strategies[cls].map(
                lambda event, name=name: type(event).model_validate(
                    {**event.model_dump(), "type": name}
                )
            )
    return strategies


def server_events(*, beta: bool = False, other: bool = False) -> S[ServerEvent]:
    return st.one_of(*server_event_strategies(beta=beta, other=other).values())


# -- the strategies cover every class -----------------------------------------------------


def test_there_is_a_strategy_for_every_event_class() -> None:
    assert set(client_event_strategies()) == set(CLIENT_EVENT_CLASSES)
    assert set(server_event_strategies()) == set(SERVER_EVENT_CLASSES)


@PROPERTY
@given(server_events(beta=True))
def test_beta_strategies_build_valid_events(event: ServerEvent) -> None:
    assert type(event).model_validate(event.model_dump()) == event
