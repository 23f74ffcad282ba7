"""A response's server events encoded directly, without a model built and dumped.

Every event of a streamed response was a pydantic model, validated as it was built and
dumped again to JSON on delivery: with the token counting gone, that was the largest
share of the simulator's CPU per turn. :func:`encoded` writes the same JSON from plain
values (byte for byte what :func:`accord.protocol.encode` gives for the model: a test,
tests/test_sim_frames.py, holds every builder here to it), and the session's sent log
(``SimSession.sent``, read by tests) turns an :class:`Encoded` event back into its model
only when it is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from accord.items import Item
from accord.protocol import ServerEvent, parse_server_event
from accord.protocol.codec import type_names
from accord.protocol.fast import announced_item, encode_server_event, server_item
from accord.sim.events import Prebuilt


@dataclass(frozen=True, slots=True)
class Encoded(Prebuilt):
    """An event of a class accord models, encoded directly; :meth:`model` is that model
    (what the sent log shows)."""

    def model(self) -> ServerEvent:
        event = parse_server_event(self.frame)
        assert isinstance(event, ServerEvent)
        return event


_TYPE: dict[type[ServerEvent], str] = {}


def encoded(cls: type[ServerEvent], event_id: str, **fields: Any) -> Encoded:
    """``cls(event_id=event_id, **fields)`` as it would be sent; ``fields`` are plain
    JSON values, in the order the model declares them (extras last)."""
    kind = _TYPE.get(cls)
    if kind is None:
        kind = _TYPE[cls] = type_names(cls)[0]
    return Encoded(kind, event_id, encode_server_event(cls, event_id, **fields))


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
