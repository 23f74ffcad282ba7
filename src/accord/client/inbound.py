"""Server events -> engine inputs and application events: one handler per event class.

The only place on the client side that reads protocol classes (the engine reads its own
inputs, :mod:`accord.engine.events`). Items are converted once, with the assistant
audio's length counted from the audio deltas actually received (no wire field carries
it), so truncation positions and restores work on what the client really got.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal, Protocol

from accord.client import events as app
from accord.client import streaming as st
from accord.engine import events as ev
from accord.engine.interface import Client
from accord.items import FunctionCall, Item, McpApprovalResponse, McpItem, Message
from accord.protocol import (
    ConversationItemAdded,
    ConversationItemDeleted,
    ConversationItemDone,
    ConversationItemRetrieved,
    ConversationItemTruncated,
    ErrorEvent,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioTranscriptionCompleted,
    InputAudioTranscriptionFailed,
    ResponseCreated,
    ResponseDone,
    ResponseFunctionCallArgumentsDone,
    ResponseOutputAudioDelta,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseOutputTextDelta,
    ServerEvent,
    SessionCreated,
    SessionUpdated,
    UnsupportedItemError,
    item_from_wire,
)
from accord.protocol import error_codes as codes
from accord.protocol.metadata import REQUEST_TAG
from accord.protocol.wire_items import WireItem, WireOtherItem

log = logging.getLogger("accord.session")
BYTES_PER_MS = 48  # PCM16 mono at 24 kHz


class SessionCore(Protocol):
    """What a handler may touch of the session core: :class:`accord.client.core.SessionCore`
    is the one. Named here, structurally, so that this module does not import the core
    that imports it (an import circle inside ``accord.client``)."""

    engine: Client
    session_info: dict[str, Any]
    server_turn_detection: Any  # what session.created said, the server's own default
    responses: dict[str, str | None]  # open responses -> our response.create (or None)
    out_of_band_requests: set[str]
    out_of_band_items: dict[str, list[str]]  # an open out-of-band reply's output items
    audio_received: dict[str, int]
    last_audio_item: str | None

    def feed(self, event: ev.ServerInput) -> None: ...
    def app(self, event: app.SessionEvent) -> None: ...
    def stream(self, event: st.StreamEvent) -> None: ...
    def notice(self, text: str) -> None: ...
    def sync_truncation(self) -> None: ...


def _item(s: SessionCore, wire: WireItem | WireOtherItem) -> Item | None:
    try:
        item = item_from_wire(wire)
    except UnsupportedItemError as exc:
        s.notice(f"item not tracked: {exc}")
        return None
    if isinstance(item, Message) and item.audio and item.role == "assistant":
        received = s.audio_received.get(item.id)
        if received is not None:
            item = replace(item, audio_ms=received // BYTES_PER_MS)
    return item


def session_created(s: SessionCore, event: SessionCreated) -> None:
    s.session_info = dict(event.session)
    # Kept apart from session_info, which each session.updated replaces: after a
    # restore's "VAD off" it reads null, and the "VAD on" that follows must not copy it.
    s.server_turn_detection = event.session.get("audio", {}).get("input", {}).get("turn_detection")
    s.sync_truncation()
    s.app(app.SessionStarted(event.session.get("id"), event.session.get("model")))


def session_updated(s: SessionCore, event: SessionUpdated) -> None:
    s.session_info = dict(event.session)
    s.sync_truncation()
    s.feed(ev.SessionUpdated())  # the engine answers the oldest session.update in transit


def item_added(s: SessionCore, event: ConversationItemAdded) -> None:
    item = _item(s, event.item)
    if item is not None:
        added(s, item, event.previous_item_id)


def added(s: SessionCore, item: Item, previous_item_id: str | None) -> None:
    s.feed(ev.ItemAdded(item, previous_item_id))
    s.app(app.RemoteItemAdded(item, previous_item_id))


def item_done(s: SessionCore, event: ConversationItemDone | ResponseOutputItemDone) -> None:
    item = _item(s, event.item)
    if item is not None:
        done(s, item)
    if isinstance(event, ResponseOutputItemDone):
        finished, response_id = event.item.id, event.response_id
        if finished is not None and response_id in s.responses:
            s.stream(st.OutputEnded(response_id, finished))


def done(s: SessionCore, item: Item) -> None:
    s.feed(ev.ItemUpdated(item, done=True))
    if isinstance(item, McpItem) and not isinstance(item, McpApprovalResponse):
        # Server-made MCP items are told to the app when complete (an item can be done
        # twice, by response.output_item.done and conversation.item.done: readers dedupe).
        s.app(app.McpItemDone(item))


def item_deleted(s: SessionCore, event: ConversationItemDeleted) -> None:
    s.audio_received.pop(event.item_id, None)  # a long session must not keep every turn's
    s.feed(ev.ItemDeleted(event.item_id))


def item_truncated(s: SessionCore, event: ConversationItemTruncated) -> None:
    s.feed(ev.ItemTruncated(event.item_id, event.audio_end_ms))


def item_retrieved(s: SessionCore, event: ConversationItemRetrieved) -> None:
    item = _item(s, event.item)
    if item is not None:
        s.feed(ev.ItemRetrieved(item))


def transcript_completed(s: SessionCore, event: InputAudioTranscriptionCompleted) -> None:
    s.feed(ev.TranscriptDone(event.item_id, event.transcript))
    s.app(app.InputTranscriptCompleted(event.item_id, event.transcript))


def transcript_failed(s: SessionCore, event: InputAudioTranscriptionFailed) -> None:
    s.feed(ev.TranscriptDone(event.item_id, None))
    s.app(app.InputTranscriptFailed(event.item_id, str(event.error.get("message", ""))))


def speech_started(s: SessionCore, event: InputAudioBufferSpeechStarted) -> None:
    s.app(app.InputSpeechStarted(event.item_id, event.audio_start_ms))


def speech_stopped(s: SessionCore, event: InputAudioBufferSpeechStopped) -> None:
    s.app(app.InputSpeechStopped(event.item_id, event.audio_end_ms))


def response_created(s: SessionCore, event: ResponseCreated) -> None:
    response = event.response
    metadata = dict(response.metadata or {})
    tag = metadata.get(REQUEST_TAG)
    out_of_band = tag is not None and tag in s.out_of_band_requests
    s.responses[response.id] = tag
    # The shell makes the generation, tells the application (GenerationStarted) and hands
    # it to generate_reply's waiter. Before the engine reads the event: a request the
    # engine drops because this response answers it resolves with this generation.
    s.stream(st.ResponseBegan(response.id, out_of_band, tag, metadata))
    s.feed(ev.ResponseCreated(response.id, out_of_band, metadata))


def output_item_added(s: SessionCore, event: ResponseOutputItemAdded) -> None:
    item_id = event.item.id
    if item_id is None:
        return
    if event.response_id in s.responses:
        s.stream(st.OutputBegan(event.response_id, item_id, event.item.type == "message"))
        if s.responses[event.response_id] in s.out_of_band_requests:
            s.out_of_band_items.setdefault(event.response_id, []).append(item_id)
    s.feed(ev.OutputItemAdded(event.response_id, item_id))


def text_delta(
    s: SessionCore, event: ResponseOutputTextDelta | ResponseOutputAudioTranscriptDelta
) -> None:
    text_only = isinstance(event, ResponseOutputTextDelta)
    streamed_text(s, event.response_id, event.item_id, event.delta, text_only=text_only)


def streamed_text(
    s: SessionCore, response_id: str, item_id: str, delta: str, *, text_only: bool
) -> None:
    """Output text, or the transcript of output audio: the response's streams only."""
    if response_id in s.responses:
        modality: Literal["text", "audio"] = "text" if text_only else "audio"
        s.stream(st.TextDelta(response_id, item_id, delta, modality))


def audio_delta(s: SessionCore, event: ResponseOutputAudioDelta) -> None:
    streamed_audio(s, event.response_id, event.item_id, event.delta)


def streamed_audio(s: SessionCore, response_id: str, item_id: str, delta: str) -> None:
    """Count the audio by its base64 length; decode only for whoever reads the stream
    (decoding every delta costs more than the rest of the event's handling)."""
    size = decoded_size(delta)
    if size is None:
        s.notice(f"undecodable audio delta for {item_id}: ignored")
        return
    s.audio_received[item_id] = s.audio_received.get(item_id, 0) + size
    s.last_audio_item = item_id
    if response_id in s.responses:
        s.stream(st.AudioDelta(response_id, item_id, delta))


def decoded_size(payload: str) -> int | None:
    """The decoded length of a base64 payload, None when it cannot be base64."""
    if len(payload) % 4:
        return None
    return len(payload) // 4 * 3 - payload[-2:].count("=")


def call_arguments_done(s: SessionCore, event: ResponseFunctionCallArgumentsDone) -> None:
    if event.response_id in s.responses and event.name is not None:
        call = FunctionCall(
            id=event.item_id, call_id=event.call_id, name=event.name, arguments=event.arguments
        )
        s.stream(st.CallArguments(event.response_id, call))


def response_done(s: SessionCore, event: ResponseDone) -> None:
    response = event.response
    status = response.status if response.status != "in_progress" else "completed"
    usage = response.usage if isinstance(response.usage, dict) else None
    tokens = usage.get("input_tokens") if usage else None
    s.feed(ev.ResponseDone(response.id, status, tokens if isinstance(tokens, int) else None))
    if response.id in s.responses:
        requested_by = s.responses.pop(response.id)
        s.stream(st.ResponseEnded(response.id, status, usage))
        if requested_by is not None:
            s.out_of_band_requests.discard(requested_by)
    forget_out_of_band(s, response.id)


def forget_out_of_band(s: SessionCore, response_id: str) -> None:
    """An out-of-band reply ended (or its connection did): its items are never deleted,
    so nothing else pops their audio counts."""
    for item_id in s.out_of_band_items.pop(response_id, ()):
        s.audio_received.pop(item_id, None)


def error(s: SessionCore, event: ErrorEvent) -> None:
    detail = event.error
    refusal = ev.ServerError(detail.code, detail.message, detail.event_id)
    answered = s.engine.operation_answered(refusal)
    s.feed(refusal)
    if (
        answered is not None
        and answered.operation == "retrieve"
        and codes.names_a_missing_item(detail.code, detail.message)
    ):
        return  # the engine's probe of an item the server dropped: ItemsEvicted says it
    s.app(
        app.ServerErrorEvent(
            detail.code,
            detail.message,
            detail.event_id,
            operation=answered.operation if answered else None,
            item_id=answered.item_id if answered else None,
            call_id=answered.call_id if answered else None,
            retried=answered is not None and s.engine.retrying(answered.event_id),
        )
    )


HANDLERS: dict[type[ServerEvent], Callable[[SessionCore, Any], None]] = {
    SessionCreated: session_created,
    SessionUpdated: session_updated,
    ConversationItemAdded: item_added,
    ConversationItemDone: item_done,
    ResponseOutputItemDone: item_done,
    ConversationItemDeleted: item_deleted,
    ConversationItemTruncated: item_truncated,
    ConversationItemRetrieved: item_retrieved,
    InputAudioTranscriptionCompleted: transcript_completed,
    InputAudioTranscriptionFailed: transcript_failed,
    InputAudioBufferSpeechStarted: speech_started,
    InputAudioBufferSpeechStopped: speech_stopped,
    ResponseCreated: response_created,
    ResponseOutputItemAdded: output_item_added,
    ResponseOutputTextDelta: text_delta,
    ResponseOutputAudioTranscriptDelta: text_delta,
    ResponseOutputAudioDelta: audio_delta,
    ResponseFunctionCallArgumentsDone: call_arguments_done,
    ResponseDone: response_done,
    ErrorEvent: error,
}
