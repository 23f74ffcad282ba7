"""Rules on the conversation: R10 previous ids, R11 item lifecycle, R12 client acks,
R14 audio input.

A replay of the conversation from the server's events (``added`` inserts after its
``previous_item_id``, ``deleted`` removes) tells which item was first and which ids were
in the conversation at each moment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trace_rules.base import Event, Trace, Violation, echoing_errors

ROOT = "root"


@dataclass(frozen=True, slots=True)
class Added:
    """One ``conversation.item.added`` as the conversation stood when it arrived."""

    index: int
    item_id: str
    previous_item_id: str | None
    creator: str  # "response", "audio" or "client"
    first_id: str | None  # the conversation's first item before this one went in
    present: frozenset[str]  # the ids in the conversation before this one went in


def conversation_adds(trace: Trace) -> list[Added]:
    announced: dict[str, str] = {}
    conv: list[str] = []
    out: list[Added] = []
    root_ids = {
        f["item"].get("id")
        for f in trace.client
        if f.get("type") == "conversation.item.create"
        and f.get("previous_item_id") == ROOT
        and isinstance(f.get("item"), Mapping)
    }
    for i, event in enumerate(trace.server):
        kind = event.get("type")
        if kind == "response.output_item.added":
            announced[event["item"]["id"]] = "response"
        elif kind == "input_audio_buffer.committed":
            announced[event["item_id"]] = "audio"
        elif kind == "conversation.item.deleted" and event.get("item_id") in conv:
            conv.remove(event["item_id"])
        elif kind == "conversation.item.added":
            item_id, prev = event["item"]["id"], event.get("previous_item_id")
            out.append(
                Added(
                    i,
                    item_id,
                    prev,
                    # An MCP server's tool list is the server's own item (the SDK's
                    # mcp_list_tools events; no recording shows one).
                    announced.get(item_id, _own(event["item"])),
                    conv[0] if conv else None,
                    frozenset(conv),
                )
            )
            if prev in conv:
                conv.insert(conv.index(prev) + 1, item_id)
            elif prev is None and (not conv or item_id in root_ids):
                conv.insert(0, item_id)
            else:
                conv.append(item_id)
    return out


def _own(item: Mapping[str, Any]) -> str:
    return "server" if item.get("type") == "mcp_list_tools" else "client"


def _creates(trace: Trace) -> list[Event]:
    return [f for f in trace.client if f.get("type") == "conversation.item.create"]


def _pair_creates(trace: Trace, adds: list[Added]) -> tuple[dict[int, Added], list[Added]]:
    """create position -> its ``added``; and the client ``added`` events no create claims."""
    creates = _creates(trace)
    chosen = {f["item"].get("id") for f in creates if isinstance(f.get("item"), Mapping)}
    client_adds = [a for a in adds if a.creator == "client"]
    by_id = [a for a in client_adds if a.item_id in chosen]
    anonymous = [a for a in client_adds if a.item_id not in chosen]
    paired: dict[int, Added] = {}
    refused = echoing_errors(trace, {str(f["event_id"]) for f in creates if f.get("event_id")})
    for n, frame in enumerate(creates):
        if frame.get("event_id") in refused:
            continue
        wanted = frame.get("item", {}).get("id")
        pool = anonymous if wanted is None else [a for a in by_id if a.item_id == wanted]
        if pool:
            paired[n] = pool[0]
            (anonymous if wanted is None else by_id).remove(pool[0])
    return paired, anonymous + by_id


def r10_previous_item_id(trace: Trace) -> list[Violation]:
    out = []
    adds = conversation_adds(trace)
    paired, _ = _pair_creates(trace, adds)
    root_adds = {
        paired[n].index
        for n, f in enumerate(_creates(trace))
        if n in paired and f.get("previous_item_id") == ROOT
    }
    for add in adds:
        if add.previous_item_id is None:
            if add.present and add.index not in root_adds:
                out.append(
                    Violation(
                        "R10",
                        add.index,
                        f"{add.item_id}: previous_item_id null but the conversation is not empty",
                    )
                )
        elif add.previous_item_id not in add.present:
            out.append(
                Violation(
                    "R10",
                    add.index,
                    f"{add.item_id}: previous_item_id "
                    f"{add.previous_item_id!r} is not in the conversation",
                )
            )
    for n, frame in enumerate(_creates(trace)):
        asked = frame.get("previous_item_id")
        if n in paired and asked not in (None, ROOT) and paired[n].previous_item_id != asked:
            out.append(
                Violation(
                    "R10",
                    paired[n].index,
                    f"create #{n} asked for {asked!r}, got {paired[n].previous_item_id!r}",
                )
            )
    return out


def r11_item_lifecycle(trace: Trace) -> list[Violation]:
    out = []
    adds = conversation_adds(trace)
    dones = [(i, e) for i, e in trace.of_type("conversation.item.done")]
    for n, add in enumerate(adds):
        later = next((a.index for a in adds[n + 1 :] if a.item_id == add.item_id), None)
        mine = [
            (i, e)
            for i, e in dones
            if e["item"]["id"] == add.item_id and i > add.index and (later is None or i < later)
        ]
        if len(mine) != 1:
            out.append(Violation("R11", add.index, f"{add.item_id}: {len(mine)} item.done"))
            continue
        at, done = mine[0]
        prev = done.get("previous_item_id")
        quirk = (
            prev is None
            and add.creator == "response"
            and add.previous_item_id is not None
            and add.previous_item_id == add.first_id
        )
        if prev != add.previous_item_id and not quirk:
            out.append(
                Violation(
                    "R11",
                    at,
                    f"{add.item_id}: done.previous_item_id {prev!r}, "
                    f"added had {add.previous_item_id!r}",
                )
            )
    added_ids = {a.item_id for a in adds}
    for i, done in dones:
        if done["item"]["id"] not in added_ids:
            out.append(Violation("R11", i, f"{done['item']['id']}: done without added"))
    return out


def r12_client_acks(trace: Trace) -> list[Violation]:
    out = []
    adds = conversation_adds(trace)
    paired, stray = _pair_creates(trace, adds)
    creates = _creates(trace)
    refused = echoing_errors(trace, {str(f["event_id"]) for f in creates if f.get("event_id")})
    for n, frame in enumerate(creates):
        if n not in paired and frame.get("event_id") not in refused:
            out.append(Violation("R12", None, f"create #{n} got neither added nor an error"))
    out += [Violation("R12", a.index, f"added {a.item_id} answers no create") for a in stray]
    deletes = [f for f in trace.client if f.get("type") == "conversation.item.delete"]
    refused = echoing_errors(trace, {str(f["event_id"]) for f in deletes if f.get("event_id")})
    deleted = [e.get("item_id") for _, e in trace.of_type("conversation.item.deleted")]
    for frame in deletes:
        if frame.get("event_id") in refused:
            continue
        if frame.get("item_id") in deleted:
            deleted.remove(frame.get("item_id"))
        else:
            out.append(
                Violation(
                    "R12",
                    None,
                    f"delete of {frame.get('item_id')!r} got neither "
                    "conversation.item.deleted naming it nor an error",
                )
            )
    out += [Violation("R12", None, f"deleted {d!r} answers no delete") for d in deleted]
    out += _response_acks(trace)
    return out


def _response_acks(trace: Trace) -> list[Violation]:
    asks = [
        f
        for f in trace.client
        if f.get("type") == "response.create"
        and (f.get("response") or {}).get("conversation") != "none"
    ]
    refused = echoing_errors(trace, {str(f["event_id"]) for f in asks if f.get("event_id")})
    expected = len(asks) - len(refused)
    in_band = sum(
        1
        for _, e in trace.of_type("response.created")
        if e["response"].get("conversation_id") is not None
    )
    server_started = any(True for _ in trace.of_type("input_audio_buffer.committed"))
    if in_band < expected or (in_band > expected and not server_started):
        return [
            Violation(
                "R12",
                None,
                f"{len(asks)} response.create ({len(refused)} refused), "
                f"{in_band} in-band response.created",
            )
        ]
    return []


def _transcribing(session: Mapping[str, Any]) -> bool:
    audio = session.get("audio")
    if not isinstance(audio, Mapping) or not isinstance(audio.get("input"), Mapping):
        return False
    return audio["input"].get("transcription") is not None


def r14_audio_input(trace: Trace) -> list[Violation]:
    out = []
    first: dict[tuple[str, str], int] = {}
    for i, event in enumerate(trace.server):
        item_id = event.get("item_id")
        if isinstance(event.get("item"), Mapping):
            item_id = event["item"].get("id")
        if isinstance(item_id, str):
            first.setdefault((str(event.get("type")), item_id), i)
    transcribing = False
    for i, event in enumerate(trace.server):
        if event.get("type") in ("session.created", "session.updated"):
            transcribing = _transcribing(event.get("session") or {})
        if event.get("type") != "input_audio_buffer.committed":
            continue
        item_id = event["item_id"]
        steps = [
            first.get((k, item_id))
            for k in ("input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped")
        ]
        added = first.get(("conversation.item.added", item_id))
        chain = [s for s in steps if s is not None] + [i, added]
        stopped_missing = steps[0] is not None and steps[1] is None
        if stopped_missing or added is None or chain != sorted(c for c in chain if c is not None):
            out.append(
                Violation(
                    "R14",
                    i,
                    f"{item_id}: speech_started < speech_stopped < "
                    "committed < conversation.item.added does not hold",
                )
            )
        if transcribing:
            out += _transcript(trace, item_id, i)
    return out


def _transcript(trace: Trace, item_id: str, at: int) -> list[Violation]:
    prefix = "conversation.item.input_audio_transcription."
    mine = [
        e
        for e in trace.server
        if e.get("item_id") == item_id and str(e.get("type")).startswith(prefix)
    ]
    deltas = "".join(e["delta"] for e in mine if e["type"] == prefix + "delta")
    completed = [e["transcript"] for e in mine if e["type"] == prefix + "completed"]
    if len(completed) != 1 or any(e["type"] == prefix + "failed" for e in mine):
        return [
            Violation(
                "R14",
                at,
                f"{item_id}: {len(completed)} transcription.completed, "
                f"events {[e['type'].removeprefix(prefix) for e in mine]}",
            )
        ]
    if deltas.lstrip() != completed[0].lstrip():
        return [Violation("R14", at, f"{item_id}: deltas {deltas!r} != {completed[0]!r}")]
    return []
