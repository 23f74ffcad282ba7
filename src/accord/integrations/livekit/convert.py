"""LiveKit chat items <-> accord items.

LiveKit's items carry what its agent needs (timestamps, metrics, ``extra``, an error
flag on outputs); accord's carry what the server holds (whether a message is spoken
audio, its length, whether a barge-in cut it). Converting LiveKit -> accord therefore
takes a *template*: the accord item the LiveKit copy came from, whose server-side fields
survive; only what LiveKit can show (role, text, interrupted; a call; an output) is
read from the LiveKit copy. :func:`view` is exactly that visible part, so "did the
writer change this item?" is asked on what the writer could see and nothing else.

Items LiveKit keeps only for itself (agent handoffs, configuration updates, the
instructions it sends as session instructions) are never conversation items here.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from livekit.agents import llm
from livekit.agents.llm.chat_context import DYNAMIC_INSTRUCTIONS_MESSAGE_ID
from livekit.agents.voice.generation import INSTRUCTIONS_MESSAGE_ID

from accord.items import FunctionCall, FunctionCallOutput, Item, Message, Role

log = logging.getLogger("accord.integrations.livekit")

# Sent as the session's instructions, never as conversation items (LiveKit's own rule).
INSTRUCTION_IDS = frozenset({INSTRUCTIONS_MESSAGE_ID, DYNAMIC_INSTRUCTIONS_MESSAGE_ID})
_ROLES: dict[str, Role] = {
    "system": "system",
    "developer": "system",  # the Realtime API has no developer role; LiveKit maps it too
    "user": "user",
    "assistant": "assistant",
}
# The LiveKit fields that carry an item's content, per item type (what a write-back
# replaces while keeping LiveKit's own metadata).
CONTENT_FIELDS: dict[str, tuple[str, ...]] = {
    "message": ("id", "role", "content", "interrupted"),
    "function_call": ("id", "call_id", "name", "arguments"),
    "function_call_output": ("id", "call_id", "output"),
}

View = tuple[Any, ...]


def is_conversation_item(item: llm.ChatItem) -> bool:
    """True for the items that live on the server: messages, calls and outputs."""
    return item.type in CONTENT_FIELDS and item.id not in INSTRUCTION_IDS


def view(item: Item) -> View:
    """What a LiveKit copy of ``item`` can show (and so what a LiveKit writer can edit)."""
    if isinstance(item, Message):
        return ("message", item.role, item.text, item.interrupted)
    if isinstance(item, FunctionCall):
        return ("call", item.call_id, item.name, item.arguments)
    if isinstance(item, FunctionCallOutput):
        return ("output", item.call_id, item.output)
    return ("mcp", type(item).__name__, repr(item))  # LiveKit has no MCP kind


def message_text(message: llm.ChatMessage) -> str:
    """The text of a LiveKit message: its strings and audio transcripts, one per line.

    Images have no place in accord's items (the adapter takes no video): they are
    left out, with a warning.
    """
    parts: list[str] = []
    for part in message.content:
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, llm.AudioContent):
            parts.append(part.transcript or "")
        elif isinstance(part, llm.ImageContent):
            log.warning("image content of %s left out: accord carries no images", message.id)
    return "\n".join(parts)


def from_livekit(item: llm.ChatItem, template: Item | None = None) -> Item:
    """The accord item for a LiveKit conversation item.

    ``template``: the accord item this copy came from (same id), when known. If the copy
    shows exactly what the template shows, the template itself is returned (so an
    untouched copy converts to the very item it was made from); otherwise the visible
    fields are taken from the copy and the rest (audio, its length) from the template.
    """
    if isinstance(item, llm.ChatMessage):
        converted: Item = Message(
            id=item.id,
            role=_ROLES.get(item.role, "user"),
            content=message_text(item),
            interrupted=item.interrupted,
        )
    elif isinstance(item, llm.FunctionCall):
        converted = FunctionCall(
            id=item.id, call_id=item.call_id, name=item.name, arguments=item.arguments
        )
    elif isinstance(item, llm.FunctionCallOutput):
        converted = FunctionCallOutput(id=item.id, call_id=item.call_id, output=item.output)
    else:
        raise TypeError(f"not a conversation item: {item.type} ({item.id})")
    if template is None or type(template) is not type(converted):
        return converted
    if view(template) == view(converted):
        return template if template.id == converted.id else replace(template, id=converted.id)
    if isinstance(template, Message) and isinstance(converted, Message):
        spoken = template.audio and converted.role != "system"
        return replace(
            converted,
            audio=spoken,
            audio_ms=template.audio_ms if spoken else None,
        )
    return converted


def to_livekit(item: Item, *, created_at: float | None = None) -> llm.ChatItem:
    """The LiveKit copy of an accord item (``created_at``: now, unless given)."""
    stamp = time.time() if created_at is None else created_at
    if isinstance(item, Message):
        return llm.ChatMessage(
            id=item.id,
            role=item.role,
            content=[item.text] if item.text else [],
            interrupted=item.interrupted,
            created_at=stamp,
        )
    if isinstance(item, FunctionCall):
        return llm.FunctionCall(
            id=item.id,
            call_id=item.call_id,
            name=item.name,
            arguments=item.arguments,
            created_at=stamp,
        )
    if isinstance(item, FunctionCallOutput):
        return llm.FunctionCallOutput(
            id=item.id, call_id=item.call_id, output=item.output, is_error=False, created_at=stamp
        )
    raise TypeError(f"LiveKit's chat context has no MCP item kind: {type(item).__name__}")


def with_content_of(lk_item: llm.ChatItem, item: Item) -> llm.ChatItem:
    """``lk_item`` (LiveKit's own copy, its metadata kept) showing ``item``'s content."""
    fresh = to_livekit(item, created_at=lk_item.created_at)
    fields = CONTENT_FIELDS[fresh.type]
    return lk_item.model_copy(update={name: getattr(fresh, name) for name in fields})
