"""A response's server events encoded directly, without a model built and dumped.

Every event of a streamed response was a pydantic model, validated as it was built and
dumped again to JSON on delivery: with the token counting gone, that was the largest
share of the simulator's CPU per turn. :func:`encoded` writes the same JSON from plain
values (byte for byte what :func:`accord.protocol.encode` gives for the model: a test,
tests/test_sim_frames.py, holds every builder here to it). Such an event travels as its
frame, a plain string (no object per event for the collector to count or walk), and the
session's sent log (``SimSession.sent``, read by tests) turns it back into its model
(:func:`model_of`) only when it is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from accord.items import Item
from accord.protocol import ServerEvent, parse_server_event
from accord.protocol.fast import announced_item, encode_server_event, server_item


def encoded(cls: type[ServerEvent], event_id: str, **fields: Any) -> str:
    """The frame of ``cls(event_id=event_id, **fields)``; ``fields`` are plain JSON
    values, in the order the model declares them (extras last)."""
    return encode_server_event(cls, event_id, **fields)


def model_of(frame: str) -> ServerEvent:
    """The model of an event :func:`encoded` wrote (what the sent log shows)."""
    event = parse_server_event(frame)
    assert isinstance(event, ServerEvent)
    return event


def item_json(item: Item, status: str | None, phase: str | None = None) -> dict[str, Any]:
    """``wire_item(item, status)`` (with ``phase``, gpt-realtime-2.x) as JSON values."""
    out = server_item(item, status)
    if phase is not None:
        out["phase"] = phase  # recorded: after content
    return out


def announced_json(item: Item, phase: str | None = None) -> dict[str, Any]:
    """``empty_item(item)`` (in progress, empty; with ``phase``) as JSON values."""
    out = announced_item(item)
    if phase is not None:
        out["phase"] = phase
    return out


def part_json(audio: bool, text: str) -> dict[str, Any]:
    """A content part (``ResponsePart``) of a spoken or written message."""
    return {"type": "audio", "transcript": text} if audio else {"type": "text", "text": text}


def response_json(
    response_id: str,
    status: str,
    *,
    output: Sequence[Any] = (),  # items as JSON values (or models, for model_validate)
    metadata: dict[str, str] | None = None,
    conversation_id: str | None = None,
    modalities: Sequence[str] = ("audio",),
    usage: dict[str, Any] | None = None,
    status_details: dict[str, Any] | None = None,
    audio: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``response_object(...)`` (sim/events.py) as JSON values."""
    return {
        "id": response_id,
        "object": "realtime.response",
        "status": status,
        "status_details": status_details,
        "output": list(output),
        "conversation_id": conversation_id,
        "output_modalities": list(modalities),
        "max_output_tokens": "inf",
        "audio": audio or {},
        "metadata": metadata,
        "usage": usage,
    }
