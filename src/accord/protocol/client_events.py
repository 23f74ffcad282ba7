"""Client events (GA spelling): what a client sends to a Realtime server.

The session sends these and the simulator parses them. They are strict, unlike server
events: an unknown field is refused (``extra="forbid"``), so a typo in our own code
fails at construction with :class:`~accord.protocol.errors.InvalidEventError`, and a client
that sends a field the simulator does not know gets an error instead of being half
understood (the real server answers ``unknown_parameter``). Session objects stay plain
dicts: the engine builds them whole and the simulator checks their keys itself.

Every client event carries an optional ``event_id``; the server echoes it in
``error.event_id``, which is how an error is matched to the operation that caused it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeAlias

from pydantic import ConfigDict, Field, field_validator

from .base import WireModel
from .wire_items import ClientItem, ResponseInputItem

NonNegativeInt: TypeAlias = Annotated[int, Field(ge=0)]
Modality: TypeAlias = Literal["text", "audio"]


class ClientEvent(WireModel):
    """Base of every client event."""

    model_config = ConfigDict(extra="forbid")

    type: str
    event_id: str | None = None


class SessionUpdate(ClientEvent):
    """Update the session configuration.

    ``session`` is the GA session object as a dict and must name its ``type``
    (``"realtime"`` or ``"transcription"``), as the GA server requires. A key set to
    None is sent as null (``audio.input.turn_detection: None`` turns server VAD off).
    """

    type: Literal["session.update"] = "session.update"
    session: dict[str, Any]

    @field_validator("session")
    @classmethod
    def _has_type(cls, session: dict[str, Any]) -> dict[str, Any]:
        if session.get("type") not in ("realtime", "transcription"):
            raise ValueError("session.type must be 'realtime' or 'transcription'")
        return session


class InputAudioBufferAppend(ClientEvent):
    """Append base64 audio to the input buffer; ``audio`` is passed through untouched."""

    type: Literal["input_audio_buffer.append"] = "input_audio_buffer.append"
    audio: str


class InputAudioBufferCommit(ClientEvent):
    """Commit the input buffer as a user audio item."""

    type: Literal["input_audio_buffer.commit"] = "input_audio_buffer.commit"


class InputAudioBufferClear(ClientEvent):
    """Discard the input buffer."""

    type: Literal["input_audio_buffer.clear"] = "input_audio_buffer.clear"


class OutputAudioBufferClear(ClientEvent):
    """Cut off the audio being played (WebRTC/SIP)."""

    type: Literal["output_audio_buffer.clear"] = "output_audio_buffer.clear"


class ConversationItemCreate(ClientEvent):
    """Create an item after ``previous_item_id``.

    None appends at the end (the key is omitted on the wire); ``"root"`` inserts at the
    start.
    """

    type: Literal["conversation.item.create"] = "conversation.item.create"
    item: ClientItem
    previous_item_id: str | None = None


class ConversationItemRetrieve(ClientEvent):
    """Ask for the server's copy of an item (answered by ``conversation.item.retrieved``)."""

    type: Literal["conversation.item.retrieve"] = "conversation.item.retrieve"
    item_id: str


class ConversationItemTruncate(ClientEvent):
    """Cut an assistant audio item at ``audio_end_ms`` (what the user actually heard)."""

    type: Literal["conversation.item.truncate"] = "conversation.item.truncate"
    item_id: str
    content_index: NonNegativeInt
    audio_end_ms: NonNegativeInt


class ConversationItemDelete(ClientEvent):
    """Delete an item from the server's conversation."""

    type: Literal["conversation.item.delete"] = "conversation.item.delete"
    item_id: str


class ResponseParams(WireModel):
    """The ``response`` object of ``response.create``.

    ``conversation="none"`` makes an out-of-band response whose items are not added to
    the conversation; ``input`` then replaces the conversation as the model's context
    and may mix inline items with item references. ``metadata`` comes back in
    ``response.created`` / ``response.done``. Tools, tool choice and the audio, prompt
    and reasoning settings are passed through as dicts.
    """

    model_config = ConfigDict(extra="forbid")

    conversation: Literal["auto", "none"] | None = None
    input: tuple[ResponseInputItem, ...] | None = None
    instructions: str | None = None
    metadata: dict[str, str] | None = None
    output_modalities: tuple[Modality, ...] | None = None
    tools: tuple[dict[str, Any], ...] | None = None
    tool_choice: str | dict[str, Any] | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    parallel_tool_calls: bool | None = None
    audio: dict[str, Any] | None = None
    prompt: dict[str, Any] | None = None
    reasoning: dict[str, Any] | None = None

    @property
    def out_of_band(self) -> bool:
        """True when the response must not write to the conversation."""
        return self.conversation == "none"


class ResponseCreate(ClientEvent):
    """Start a response; without ``response`` it uses the session's defaults."""

    type: Literal["response.create"] = "response.create"
    response: ResponseParams | None = None


class ResponseCancel(ClientEvent):
    """Cancel a response: the given one, or without an id the conversation's own."""

    type: Literal["response.cancel"] = "response.cancel"
    response_id: str | None = None


AnyClientEvent: TypeAlias = (
    SessionUpdate
    | InputAudioBufferAppend
    | InputAudioBufferCommit
    | InputAudioBufferClear
    | OutputAudioBufferClear
    | ConversationItemCreate
    | ConversationItemRetrieve
    | ConversationItemTruncate
    | ConversationItemDelete
    | ResponseCreate
    | ResponseCancel
)

#: Every client event class, in the order the dispatch table is built from.
CLIENT_EVENT_CLASSES: tuple[type[ClientEvent], ...] = (
    SessionUpdate,
    InputAudioBufferAppend,
    InputAudioBufferCommit,
    InputAudioBufferClear,
    OutputAudioBufferClear,
    ConversationItemCreate,
    ConversationItemRetrieve,
    ConversationItemTruncate,
    ConversationItemDelete,
    ResponseCreate,
    ResponseCancel,
)
