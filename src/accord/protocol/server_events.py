"""Server events: what a Realtime server sends, GA spelling plus the beta names.

Server events are permissive where clients must be strict: fields we do not declare
(``obfuscation``, ``logprobs``, whatever the server adds next) are kept as extras and
re-encoded, so nothing the server said is lost, while the fields the protocol always
sends are required. Nested payloads the engine does not read (session objects, usage,
rate limits) stay dicts; items and response objects are typed.

A server event renamed by GA accepts its beta name too (see :mod:`.spellings`), so an
event parsed from a beta server keeps its ``type`` and reports ``dialect == BETA``,
while the engine handles it by class exactly like its GA twin. Beta's
``conversation.item.created`` parses as :class:`ConversationItemAdded`.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

from .base import WireModel
from .spellings import Dialect, server_event_dialect, session_dialect
from .wire_items import ServerItem

ResponseStatus: TypeAlias = Literal["in_progress", "completed", "cancelled", "incomplete", "failed"]


class ServerEvent(WireModel):
    """Base of every server event: each has a ``type`` and a string ``event_id``."""

    type: str
    event_id: str

    @property
    def dialect(self) -> Dialect | None:
        """The dialect this event is spelled in, or None when both spell it alike."""
        return server_event_dialect(self.type)


# -- payloads ---------------------------------------------------------------------------


class ErrorDetail(WireModel):
    """The ``error`` object: ``event_id`` is the client event that caused it, if known."""

    _KEEP_NULL = frozenset({"code", "param", "event_id"})

    type: str
    message: str
    code: str | None = None
    param: str | None = None
    event_id: str | None = None


class WireResponse(WireModel):
    """A response object as in ``response.created`` / ``response.done``.

    ``metadata`` echoes what ``response.create`` sent, which is how a client matches its
    request to the response. ``output`` holds the response's items in order.
    """

    # Null is kept where the real server sends null (recorded key set); an out-of-band
    # response's conversation_id is null, not absent (assumed: no recording has one).
    _KEEP_NULL = frozenset({"status_details", "usage", "metadata", "conversation_id"})

    id: str
    object: Literal["realtime.response"] | None = None
    status: ResponseStatus
    status_details: dict[str, Any] | None = None
    output: tuple[ServerItem, ...] = ()
    conversation_id: str | None = None
    output_modalities: tuple[Literal["text", "audio"], ...] | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    audio: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    usage: dict[str, Any] | None = None


class ResponsePart(WireModel):
    """The ``part`` of ``response.content_part.*``: spelled ``text`` / ``audio`` in both
    dialects (unlike item content, which GA spells ``output_text`` / ``output_audio``)."""

    type: Literal["text", "audio"]
    text: str | None = None
    audio: str | None = None
    transcript: str | None = None


# -- session and conversation -----------------------------------------------------------


class ErrorEvent(ServerEvent):
    """Something the client sent was refused; the session stays open."""

    type: Literal["error"] = "error"
    error: ErrorDetail


class SessionCreated(ServerEvent):
    """The first event of a session, with the session object as a dict."""

    type: Literal["session.created"] = "session.created"
    session: dict[str, Any]

    @property
    def dialect(self) -> Dialect | None:
        """GA sessions carry ``type: "realtime"``; beta ones carry no ``type``."""
        return session_dialect(self.session)


class SessionUpdated(ServerEvent):
    """The session after a ``session.update`` was applied."""

    type: Literal["session.updated"] = "session.updated"
    session: dict[str, Any]

    @property
    def dialect(self) -> Dialect | None:
        """GA sessions carry ``type: "realtime"``; beta ones carry no ``type``."""
        return session_dialect(self.session)


class ConversationCreated(ServerEvent):
    """A conversation was created (sent right after ``session.created``)."""

    type: Literal["conversation.created"] = "conversation.created"
    conversation: dict[str, Any]


class ConversationItemAdded(ServerEvent):
    """An item entered the conversation after ``previous_item_id`` (null: first).

    Beta's ``conversation.item.created`` parses here: same meaning, older name.
    """

    _KEEP_NULL = frozenset({"previous_item_id"})

    type: Literal["conversation.item.added", "conversation.item.created"] = (
        "conversation.item.added"
    )
    previous_item_id: str | None = None
    item: ServerItem


class ConversationItemDone(ServerEvent):
    """An item is complete. Its ``previous_item_id`` may be null where ``.added`` had
    one (a server quirk): trust ``.added`` for placement."""

    _KEEP_NULL = frozenset({"previous_item_id"})

    type: Literal["conversation.item.done"] = "conversation.item.done"
    previous_item_id: str | None = None
    item: ServerItem


class ConversationItemRetrieved(ServerEvent):
    """The server's copy of an item, answering ``conversation.item.retrieve``."""

    type: Literal["conversation.item.retrieved"] = "conversation.item.retrieved"
    item: ServerItem


class ConversationItemDeleted(ServerEvent):
    """An item was deleted."""

    type: Literal["conversation.item.deleted"] = "conversation.item.deleted"
    item_id: str


class ConversationItemTruncated(ServerEvent):
    """An assistant audio item was truncated; its transcript is gone on the server."""

    type: Literal["conversation.item.truncated"] = "conversation.item.truncated"
    item_id: str
    content_index: int
    audio_end_ms: int


class InputAudioTranscriptionDelta(ServerEvent):
    """A piece of a user audio item's transcript (may start with a space)."""

    type: Literal["conversation.item.input_audio_transcription.delta"] = (
        "conversation.item.input_audio_transcription.delta"
    )
    item_id: str
    content_index: int
    delta: str


class InputAudioTranscriptionCompleted(ServerEvent):
    """A user audio item's final transcript, not ordered with any response.

    The GA schema also requires ``usage``; it is optional here only so that beta
    servers, which omit it, still parse.
    """

    type: Literal["conversation.item.input_audio_transcription.completed"] = (
        "conversation.item.input_audio_transcription.completed"
    )
    item_id: str
    content_index: int
    transcript: str
    usage: dict[str, Any] | None = None


class InputAudioTranscriptionFailed(ServerEvent):
    """Transcribing a user audio item failed: its transcript will never arrive."""

    type: Literal["conversation.item.input_audio_transcription.failed"] = (
        "conversation.item.input_audio_transcription.failed"
    )
    item_id: str
    content_index: int
    error: dict[str, Any]


# -- input audio buffer -----------------------------------------------------------------


class InputAudioBufferCommitted(ServerEvent):
    """The input buffer became user audio item ``item_id`` after ``previous_item_id``."""

    _KEEP_NULL = frozenset({"previous_item_id"})

    type: Literal["input_audio_buffer.committed"] = "input_audio_buffer.committed"
    item_id: str
    previous_item_id: str | None = None


class InputAudioBufferCleared(ServerEvent):
    """The input buffer was cleared."""

    type: Literal["input_audio_buffer.cleared"] = "input_audio_buffer.cleared"


class InputAudioBufferSpeechStarted(ServerEvent):
    """Server VAD heard speech (a barge-in); ``item_id`` names the item to come."""

    type: Literal["input_audio_buffer.speech_started"] = "input_audio_buffer.speech_started"
    item_id: str
    audio_start_ms: int


class InputAudioBufferSpeechStopped(ServerEvent):
    """Server VAD heard the end of speech."""

    type: Literal["input_audio_buffer.speech_stopped"] = "input_audio_buffer.speech_stopped"
    item_id: str
    audio_end_ms: int


class InputAudioBufferTimeoutTriggered(ServerEvent):
    """Server VAD's idle timeout fired."""

    type: Literal["input_audio_buffer.timeout_triggered"] = "input_audio_buffer.timeout_triggered"
    item_id: str
    audio_start_ms: int
    audio_end_ms: int


class OutputAudioBufferStarted(ServerEvent):
    """The server began streaming a response's audio (WebRTC/SIP)."""

    type: Literal["output_audio_buffer.started"] = "output_audio_buffer.started"
    response_id: str


class OutputAudioBufferStopped(ServerEvent):
    """The server's output audio buffer drained (WebRTC/SIP)."""

    type: Literal["output_audio_buffer.stopped"] = "output_audio_buffer.stopped"
    response_id: str


class OutputAudioBufferCleared(ServerEvent):
    """The server's output audio buffer was cleared (WebRTC/SIP)."""

    type: Literal["output_audio_buffer.cleared"] = "output_audio_buffer.cleared"
    response_id: str


# -- responses --------------------------------------------------------------------------


class ResponseCreated(ServerEvent):
    """A response started (``status`` in_progress, empty ``output``)."""

    type: Literal["response.created"] = "response.created"
    response: WireResponse


class ResponseDone(ServerEvent):
    """A response ended, whatever its status; always sent."""

    type: Literal["response.done"] = "response.done"
    response: WireResponse


class ResponseOutputItemAdded(ServerEvent):
    """A response began an output item (in progress, empty)."""

    type: Literal["response.output_item.added"] = "response.output_item.added"
    response_id: str
    output_index: int
    item: ServerItem


class ResponseOutputItemDone(ServerEvent):
    """A response finished an output item."""

    type: Literal["response.output_item.done"] = "response.output_item.done"
    response_id: str
    output_index: int
    item: ServerItem


class _ContentEvent(ServerEvent):
    """Fields shared by every event about one content part of a response item."""

    response_id: str
    item_id: str
    output_index: int
    content_index: int


class ResponseContentPartAdded(_ContentEvent):
    """A content part began."""

    type: Literal["response.content_part.added"] = "response.content_part.added"
    part: ResponsePart


class ResponseContentPartDone(_ContentEvent):
    """A content part is complete."""

    type: Literal["response.content_part.done"] = "response.content_part.done"
    part: ResponsePart


class ResponseOutputTextDelta(_ContentEvent):
    """A piece of assistant text (beta: ``response.text.delta``)."""

    type: Literal["response.output_text.delta", "response.text.delta"] = (
        "response.output_text.delta"
    )
    delta: str


class ResponseOutputTextDone(_ContentEvent):
    """The full assistant text of a part (beta: ``response.text.done``)."""

    type: Literal["response.output_text.done", "response.text.done"] = "response.output_text.done"
    text: str


class ResponseOutputAudioDelta(_ContentEvent):
    """A chunk of assistant audio, base64, passed through untouched
    (beta: ``response.audio.delta``)."""

    type: Literal["response.output_audio.delta", "response.audio.delta"] = (
        "response.output_audio.delta"
    )
    delta: str


class ResponseOutputAudioDone(_ContentEvent):
    """The assistant audio of a part is complete (beta: ``response.audio.done``)."""

    type: Literal["response.output_audio.done", "response.audio.done"] = (
        "response.output_audio.done"
    )


class ResponseOutputAudioTranscriptDelta(_ContentEvent):
    """A piece of the assistant audio's transcript
    (beta: ``response.audio_transcript.delta``)."""

    type: Literal["response.output_audio_transcript.delta", "response.audio_transcript.delta"] = (
        "response.output_audio_transcript.delta"
    )
    delta: str


class ResponseOutputAudioTranscriptDone(_ContentEvent):
    """The full transcript of the assistant audio
    (beta: ``response.audio_transcript.done``)."""

    type: Literal["response.output_audio_transcript.done", "response.audio_transcript.done"] = (
        "response.output_audio_transcript.done"
    )
    transcript: str


class ResponseFunctionCallArgumentsDelta(ServerEvent):
    """A piece of a function call's arguments (a JSON string being streamed)."""

    type: Literal["response.function_call_arguments.delta"] = (
        "response.function_call_arguments.delta"
    )
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    delta: str


class ResponseFunctionCallArgumentsDone(ServerEvent):
    """A function call's complete arguments.

    GA always sends ``name``; beta did not, so it is optional here.
    """

    type: Literal["response.function_call_arguments.done"] = "response.function_call_arguments.done"
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    arguments: str
    name: str | None = None


class RateLimitsUpdated(ServerEvent):
    """Rate limits after a response (not always sent)."""

    type: Literal["rate_limits.updated"] = "rate_limits.updated"
    rate_limits: tuple[dict[str, Any], ...]


AnyServerEvent: TypeAlias = (
    ErrorEvent
    | SessionCreated
    | SessionUpdated
    | ConversationCreated
    | ConversationItemAdded
    | ConversationItemDone
    | ConversationItemRetrieved
    | ConversationItemDeleted
    | ConversationItemTruncated
    | InputAudioTranscriptionDelta
    | InputAudioTranscriptionCompleted
    | InputAudioTranscriptionFailed
    | InputAudioBufferCommitted
    | InputAudioBufferCleared
    | InputAudioBufferSpeechStarted
    | InputAudioBufferSpeechStopped
    | InputAudioBufferTimeoutTriggered
    | OutputAudioBufferStarted
    | OutputAudioBufferStopped
    | OutputAudioBufferCleared
    | ResponseCreated
    | ResponseDone
    | ResponseOutputItemAdded
    | ResponseOutputItemDone
    | ResponseContentPartAdded
    | ResponseContentPartDone
    | ResponseOutputTextDelta
    | ResponseOutputTextDone
    | ResponseOutputAudioDelta
    | ResponseOutputAudioDone
    | ResponseOutputAudioTranscriptDelta
    | ResponseOutputAudioTranscriptDone
    | ResponseFunctionCallArgumentsDelta
    | ResponseFunctionCallArgumentsDone
    | RateLimitsUpdated
)

#: Every server event class, in the order the dispatch table is built from.
SERVER_EVENT_CLASSES: tuple[type[ServerEvent], ...] = (
    ErrorEvent,
    SessionCreated,
    SessionUpdated,
    ConversationCreated,
    ConversationItemAdded,
    ConversationItemDone,
    ConversationItemRetrieved,
    ConversationItemDeleted,
    ConversationItemTruncated,
    InputAudioTranscriptionDelta,
    InputAudioTranscriptionCompleted,
    InputAudioTranscriptionFailed,
    InputAudioBufferCommitted,
    InputAudioBufferCleared,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioBufferTimeoutTriggered,
    OutputAudioBufferStarted,
    OutputAudioBufferStopped,
    OutputAudioBufferCleared,
    ResponseCreated,
    ResponseDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseOutputTextDelta,
    ResponseOutputTextDone,
    ResponseOutputAudioDelta,
    ResponseOutputAudioDone,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputAudioTranscriptDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    RateLimitsUpdated,
)
