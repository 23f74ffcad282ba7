"""The restore plan after a reconnect (docs/architecture.md, invariant 7), as a pure function.

A Realtime session cannot be resumed: after a drop (or the 60-minute close) the new
server is empty. The engine rebuilds it from the projected state at the drop, normalised:
complete messages stay; calls stay with their outputs (a complete call without an output
is restored and its output follows when the tool finishes); partial items are dropped;
assistant audio becomes its transcript (a truncated turn is cut in proportion to
``audio_end_ms`` over the audio length, since the server dropped that transcript, and
marked interrupted); user audio becomes its transcript, or is reported lost without one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from accord.items import FunctionCall, FunctionCallOutput, Item, Message


@dataclass(frozen=True, slots=True)
class AtDrop:
    """One projected item at the drop and what the engine knew about it."""

    item: Item
    partial: bool = False
    heard_ms: int | None = None  # truncated assistant audio: where it was cut
    full_transcript: str | None = None  # its transcript before the server dropped it
    full_ms: int | None = None  # its audio length before the truncation


@dataclass(frozen=True, slots=True)
class RestorePlan:
    items: tuple[Item, ...]
    lost: tuple[str, ...]
    dropped_partial: tuple[str, ...]


def plan_restore(entries: Sequence[AtDrop]) -> RestorePlan:
    items: list[Item] = []
    lost: list[str] = []
    partial: list[str] = []
    gone_calls: set[str] = set()
    for entry in entries:
        item = entry.item
        if entry.partial and not isinstance(item, FunctionCallOutput):
            partial.append(item.id)
            if isinstance(item, FunctionCall):
                gone_calls.add(item.call_id)
            continue
        if isinstance(item, FunctionCallOutput):
            if item.call_id in gone_calls:
                partial.append(item.id)
            else:
                items.append(item)
            continue
        if not isinstance(item, Message) or not item.audio:  # calls, outputs, MCP items
            items.append(item)
            continue
        text = _spoken_text(item, entry)
        if text is None:
            lost.append(item.id)
        else:
            items.append(text)
    return RestorePlan(tuple(items), tuple(lost), tuple(partial))


def _spoken_text(item: Message, entry: AtDrop) -> Message | None:
    """Audio as text: what the user said, or what the user heard of the assistant."""
    if item.role == "user":
        if item.content is None:
            return None
        return replace(item, audio=False, audio_ms=None)
    transcript = entry.full_transcript if entry.full_transcript is not None else item.text
    interrupted = item.interrupted
    if entry.heard_ms is not None and entry.full_ms:
        keep = len(transcript) * min(entry.heard_ms, entry.full_ms) // entry.full_ms
        transcript, interrupted = transcript[:keep], True
    return replace(item, content=transcript, audio=False, audio_ms=None, interrupted=interrupted)
