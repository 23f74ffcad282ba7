"""Rules on responses: R05 bracket, R06 output, R07 item order, R08 modality, R09
concatenation, R15 rate limits."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trace_rules.base import Event, Trace, Violation, response_id


@dataclass
class _Response:
    rid: str
    created: list[int] = field(default_factory=list)
    done: list[int] = field(default_factory=list)
    mentions: list[int] = field(default_factory=list)

    def body(self, trace: Trace, at: int) -> Mapping[str, Any]:
        value = trace.server[at].get("response")
        return value if isinstance(value, Mapping) else {}


def _responses(trace: Trace) -> dict[str, _Response]:
    found: dict[str, _Response] = {}
    for i, event in enumerate(trace.server):
        rid = response_id(event)
        if rid is None:
            continue
        resp = found.setdefault(rid, _Response(rid))
        resp.mentions.append(i)
        if event["type"] == "response.created":
            resp.created.append(i)
        elif event["type"] == "response.done":
            resp.done.append(i)
    return found


def r05_response_bracket(trace: Trace) -> list[Violation]:
    out = []
    in_band: list[tuple[int, int, str]] = []
    for resp in _responses(trace).values():
        if len(resp.created) != 1 or len(resp.done) != 1:
            out.append(
                Violation(
                    "R05",
                    resp.mentions[0],
                    f"{resp.rid}: {len(resp.created)} created, {len(resp.done)} done",
                )
            )
            continue
        start, end = resp.created[0], resp.done[0]
        if resp.mentions[0] != start or resp.mentions[-1] != end:
            out.append(Violation("R05", start, f"{resp.rid}: events outside created..done"))
        created = resp.body(trace, start)
        if (created.get("status"), created.get("output"), created.get("usage")) != (
            "in_progress",
            [],
            None,
        ):
            out.append(Violation("R05", start, f"{resp.rid}: created is not in_progress/[]/null"))
        done = resp.body(trace, end)
        if done.get("status") == "completed" and not isinstance(done.get("usage"), Mapping):
            out.append(Violation("R05", end, f"{resp.rid}: completed without usage"))
        if done.get("conversation_id") is not None:
            in_band.append((start, end, resp.rid))
    in_band.sort()
    for (_, e1, r1), (s2, _, r2) in itertools.pairwise(in_band):
        if s2 < e1:
            out.append(Violation("R05", s2, f"in-band {r2} starts before {r1} is done"))
    return out


def _item_events(trace: Trace) -> dict[str, list[tuple[int, Event]]]:
    """Per response output item id: its events (response, item and content events)."""
    announced = {e["item"]["id"] for _, e in trace.of_type("response.output_item.added")}
    found: dict[str, list[tuple[int, Event]]] = {}
    for i, event in enumerate(trace.server):
        item = event.get("item")
        item_id = item.get("id") if isinstance(item, Mapping) else event.get("item_id")
        kind = str(event.get("type"))
        if item_id in announced and (kind.startswith("response.") or kind in _CONV_ITEM):
            found.setdefault(str(item_id), []).append((i, event))
    return found


_CONV_ITEM = ("conversation.item.added", "conversation.item.done")


def r06_response_output(trace: Trace) -> list[Violation]:
    out = []
    for rid, resp in _responses(trace).items():
        index_of: dict[str, int] = {}
        dones: list[Any] = []
        for i in resp.mentions:
            event = trace.server[i]
            kind = event["type"]
            if kind == "response.output_item.added":
                if event.get("output_index") != len(index_of):
                    out.append(
                        Violation(
                            "R06",
                            i,
                            f"{rid}: output_index "
                            f"{event.get('output_index')}, expected {len(index_of)}",
                        )
                    )
                index_of[event["item"]["id"]] = int(event.get("output_index", -1))
                continue
            item_id = (
                event["item"]["id"]
                if isinstance(event.get("item"), Mapping)
                else (event.get("item_id"))
            )
            if (
                item_id is not None
                and "output_index" in event
                and event["output_index"] != index_of.get(item_id)
            ):
                out.append(
                    Violation(
                        "R06",
                        i,
                        f"{kind}: output_index {event['output_index']}"
                        f" for an item at {index_of.get(item_id)}",
                    )
                )
            if kind == "response.output_item.done":
                dones.append(event["item"])
            if kind == "response.done" and resp.body(trace, i).get("output") != dones:
                out.append(Violation("R06", i, f"{rid}: done.output differs from the items"))
    return out


_DELTA_DONE = {
    "response.output_text.delta": "response.output_text.done",
    "response.output_audio.delta": "response.output_audio.done",
    "response.output_audio_transcript.delta": "response.output_audio_transcript.done",
    "response.function_call_arguments.delta": "response.function_call_arguments.done",
}
_CONTENT_DONES = frozenset(_DELTA_DONE.values())


def r07_item_order(trace: Trace) -> list[Violation]:
    out = []
    done_at = {rid: r.done[0] for rid, r in _responses(trace).items() if r.done}
    for item_id, events in _item_events(trace).items():
        first: dict[str, int] = {}
        last: dict[str, int] = {}
        for i, event in events:
            first.setdefault(event["type"], i)
            last[event["type"]] = i
        deltas = [first[k] for k in _DELTA_DONE if k in first]
        chain = [
            first.get("response.output_item.added"),
            first.get("conversation.item.added"),
            first.get("response.content_part.added"),
            min(deltas) if deltas else None,
        ]
        dones = [last[k] for k in _CONTENT_DONES if k in last]
        tail = [
            max(dones) if dones else None,
            first.get("response.content_part.done"),
            first.get("conversation.item.done"),
            first.get("response.output_item.done"),
            done_at.get(str(response_id(events[0][1]))),
        ]
        steps = [p for p in chain + tail if p is not None]
        if steps != sorted(steps):
            out.append(
                Violation(
                    "R07",
                    events[0][0],
                    f"item {item_id} out of order: {[trace.server[p]['type'] for p in steps]}",
                )
            )
        # An order rule: it relates the events that were sent. Whether a cancelled item's
        # part is closed is not recorded; a completed item's must be (R09).
        for delta, done in _DELTA_DONE.items():
            if delta in last and done in first and last[delta] > first[done]:
                out.append(Violation("R07", last[delta], f"item {item_id}: {delta} after {done}"))
    return out


def r08_modality(trace: Trace) -> list[Violation]:
    out = []
    modality = {
        rid: tuple(r.body(trace, r.created[0]).get("output_modalities") or ())
        for rid, r in _responses(trace).items()
        if r.created
    }
    text_only = ("response.output_text.delta", "response.output_text.done")
    audio_only = tuple(k for k in _DELTA_DONE if "audio" in k) + tuple(
        v for k, v in _DELTA_DONE.items() if "audio" in k
    )
    for item_id, events in _item_events(trace).items():
        kinds = [e["type"] for _, e in events]
        mods = modality.get(str(response_id(events[0][1])), ())
        parts = {e["part"]["type"] for _, e in events if isinstance(e.get("part"), Mapping)}
        if mods == ("text",) and (parts - {"text"} or set(kinds) & set(audio_only)):
            out.append(Violation("R08", events[0][0], f"item {item_id}: audio in a text response"))
        if mods == ("audio",) and (parts - {"audio"} or set(kinds) & set(text_only)):
            out.append(Violation("R08", events[0][0], f"item {item_id}: text in an audio response"))
        transcript, audio = "response.output_audio_transcript.delta", "response.output_audio.delta"
        if audio in kinds and (
            transcript not in kinds or kinds.index(transcript) > kinds.index(audio)
        ):
            out.append(Violation("R08", events[0][0], f"item {item_id}: audio before transcript"))
    return out


def _final_value(item: Mapping[str, Any], key: str) -> Any:
    if key == "arguments":
        return item.get("arguments")
    content = item.get("content") or [{}]
    return content[0].get(key)


def r09_concat(trace: Trace) -> list[Violation]:
    fields = {
        "response.output_text.delta": ("response.output_text.done", "text"),
        "response.output_audio_transcript.delta": (
            "response.output_audio_transcript.done",
            "transcript",
        ),
        "response.function_call_arguments.delta": (
            "response.function_call_arguments.done",
            "arguments",
        ),
    }
    out = []
    for item_id, events in _item_events(trace).items():
        final = next(
            (e["item"] for _, e in events if e["type"] == "response.output_item.done"), None
        )
        for delta, (done, key) in fields.items():
            pieces = [e["delta"] for _, e in events if e["type"] == delta]
            done_events = [(i, e) for i, e in events if e["type"] == done]
            if not done_events:
                if pieces and final is not None and final.get("status") == "completed":
                    out.append(Violation("R09", None, f"completed item {item_id}: no {done}"))
                continue
            at, done_event = done_events[0]
            if "".join(pieces) != done_event.get(key):
                out.append(Violation("R09", at, f"item {item_id}: {delta} pieces != {done}"))
            completed = final is not None and final.get("status") == "completed"
            if completed and _final_value(final or {}, key) != done_event.get(key):
                out.append(Violation("R09", at, f"item {item_id}: {done} != the item's {key}"))
            for i, part_done in events:
                part = part_done.get("part")
                is_part = part_done["type"] == "response.content_part.done"
                if (
                    is_part
                    and isinstance(part, Mapping)
                    and part.get(key, done_event.get(key)) != done_event.get(key)
                ):
                    out.append(Violation("R09", i, f"item {item_id}: part {key} differs"))
    return out


def r15_rate_limits(trace: Trace) -> list[Violation]:
    active: set[str] = set()
    out = []
    for i, event in enumerate(trace.server):
        if event.get("type") == "response.created":
            active.add(str(response_id(event)))
        elif event.get("type") == "response.done":
            active.discard(str(response_id(event)))
        elif event.get("type") == "rate_limits.updated" and active:
            out.append(Violation("R15", i, f"rate_limits.updated while {sorted(active)} active"))
    return out
