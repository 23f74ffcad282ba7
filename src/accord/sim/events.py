"""Server events as the real GA server shapes them, built from the store's items.

Shapes follow docs/protocol-notes.md ("Shapes in recorded sessions", "Details clients
rely on"): items in server events carry no ``object`` key; ``function_call_output``
items carry no ``status``; ``response.created`` has status ``in_progress``, empty
``output`` and null ``usage``; ``response.output_item.added`` carries the item
``in_progress`` and empty; text and transcript deltas carry an ``obfuscation`` string,
audio deltas do not; every event has a string ``event_id``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from accord.items import FunctionCall, FunctionCallOutput, Item, Message
from accord.protocol import (
    ConversationItemAdded,
    ConversationItemDone,
    ErrorDetail,
    ErrorEvent,
    OutputAudioPart,
    OutputTextPart,
    ServerEvent,
    WireFunctionCall,
    WireMessage,
    WireResponse,
    item_to_wire,
)
from accord.protocol.wire_items import WireItem, WireOtherItem
from accord.sim.errors import ServerError
from accord.sim.ids import ServerIds

ItemStatus = Literal["completed", "in_progress", "incomplete"]


#: The id stream of a session (the name other modules import).
EventIds = ServerIds


@dataclass(frozen=True, slots=True)
class Prebuilt:
    """An event already encoded (the acknowledgements of a large batch): its ``type``
    and ``event_id`` for whoever reads the sent log, and the frame to send."""

    type: str
    event_id: str
    frame: str


#: What a session sends: a model, an event already encoded, or (sim/frames.py) the frame
#: of an event of a class accord models, encoded directly.
Outgoing = ServerEvent | Prebuilt | str


def prebuilt(ids: ServerIds, kind: str, **fields: Any) -> Prebuilt:
    """An event accord's protocol package has no class for (the MCP events): ``kind``
    with ``fields`` after its type and event id, encoded, ready to send."""
    event_id = ids.next()
    body: dict[str, Any] = {"type": kind, "event_id": event_id, **fields}
    return Prebuilt(kind, event_id, json.dumps(body))


def wire_item(item: Item, status: ItemStatus | None = "completed") -> WireItem:
    """The item as the server reports it (no ``object``; outputs carry no status)."""
    wire = item_to_wire(item)
    if isinstance(item, FunctionCallOutput):
        return wire
    return wire.model_copy(update={"status": status})


def empty_item(item: Item) -> WireItem:
    """The item as ``response.output_item.added`` reports it: in progress and empty."""
    if isinstance(item, FunctionCall):
        return WireFunctionCall(
            id=item.id, call_id=item.call_id, name=item.name, arguments="", status="in_progress"
        )
    assert isinstance(item, Message)
    return WireMessage(id=item.id, role=item.role, content=(), status="in_progress")


def assistant_part(audio: bool) -> OutputAudioPart | OutputTextPart:
    return OutputAudioPart(transcript="") if audio else OutputTextPart(text="")


def error_event(ids: EventIds, err: ServerError) -> ErrorEvent:
    return ErrorEvent(
        event_id=ids.next(),
        error=ErrorDetail(
            type=err.type,
            code=err.code,
            message=err.message,
            param=err.param,
            event_id=err.event_id,
        ),
    )


def added_and_done(
    ids: EventIds, item: Item, previous_item_id: str | None
) -> tuple[ServerEvent, ServerEvent]:
    """``conversation.item.added`` then ``.done`` for an item created whole."""
    wire = wire_item(item)
    return (
        ConversationItemAdded(event_id=ids.next(), previous_item_id=previous_item_id, item=wire),
        ConversationItemDone(event_id=ids.next(), previous_item_id=previous_item_id, item=wire),
    )


def response_object(
    response_id: str,
    status: Literal["in_progress", "completed", "cancelled", "incomplete", "failed"],
    *,
    output: Sequence[WireItem | WireOtherItem] = (),
    metadata: dict[str, str] | None = None,
    conversation_id: str | None = None,
    modalities: Sequence[str] = ("audio",),
    usage: dict[str, Any] | None = None,
    status_details: dict[str, Any] | None = None,
    audio: dict[str, Any] | None = None,
) -> WireResponse:
    return WireResponse(
        id=response_id,
        object="realtime.response",
        status=status,
        status_details=status_details,
        output=tuple(output),
        conversation_id=conversation_id,
        output_modalities=tuple(modalities),
        max_output_tokens="inf",
        audio=audio or {},
        metadata=metadata,
        usage=usage,
    )


def response_audio(session: Mapping[str, Any]) -> dict[str, Any]:
    """A response's ``audio``: the session's output format and voice (recorded shape:
    ``{"output": {"format": ..., "voice": ...}}``, text responses included)."""
    output = session.get("audio", {}).get("output", {})
    return {"output": {"format": output.get("format"), "voice": output.get("voice")}}
