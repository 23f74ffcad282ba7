"""Rules on single events and the session: R01 ids, R02 the SDK union, R03 session,
R04 key sets, R13 error shape, R16 output_audio_buffer, R17 id format."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from trace_rules.base import Trace, Violation, client_ids, echoing_errors
from trace_rules.shapes import expected_keys, family, recorded_keysets, sdk_problem, shapes


def r01_ids(trace: Trace) -> list[Violation]:
    out: list[Violation] = []
    seen: dict[str, int] = {}
    for i, event in enumerate(trace.server):
        if not isinstance(event.get("type"), str):
            out.append(Violation("R01", i, "event without a string type"))
        event_id = event.get("event_id")
        if not isinstance(event_id, str):
            out.append(Violation("R01", i, f"{event.get('type')} without a string event_id"))
        elif event_id in seen:
            out.append(Violation("R01", i, f"event_id {event_id} repeats event {seen[event_id]}"))
        else:
            seen[event_id] = i
    return out


def r02_sdk_union(trace: Trace) -> list[Violation]:
    out = []
    for i, event in enumerate(trace.server):
        problem = sdk_problem(event)
        if problem is not None:
            out.append(Violation("R02", i, f"{event.get('type')}: {problem}"))
    return out


def r04_keys(trace: Trace) -> list[Violation]:
    table = trace.keysets if trace.keysets is not None else recorded_keysets()
    fam = family(trace.model)
    out = []
    for i, event in enumerate(trace.server):
        for kind, obj in shapes(event):
            want = expected_keys(table, kind, fam)
            if want is None:
                if trace.report_unrecorded and kind.startswith("event:"):
                    out.append(Violation("R04", i, f"{kind} is never sent in the recordings"))
                continue
            have = frozenset(obj)
            if have != want:
                extra, missing = sorted(have - want), sorted(want - have)
                out.append(
                    Violation("R04", i, f"{kind}: extra keys {extra}, missing keys {missing}")
                )
    return out


def r13_error_shape(trace: Trace) -> list[Violation]:
    client_ids = {str(f["event_id"]) for f in trace.client if isinstance(f.get("event_id"), str)}
    out = []
    for i, event in trace.of_type("error"):
        err = event.get("error")
        if not isinstance(err, Mapping):
            out.append(Violation("R13", i, "error event without an error object"))
            continue
        for key in ("type", "message"):
            if not isinstance(err.get(key), str):
                out.append(Violation("R13", i, f"error.{key} is not a string"))
        echoed = err.get("event_id")
        if echoed is not None and echoed not in client_ids:
            out.append(Violation("R13", i, f"error.event_id {echoed!r} is no client event_id"))
    return out


def r16_output_audio_buffer(trace: Trace) -> list[Violation]:
    if trace.webrtc:
        return []
    return [
        Violation("R16", i, f"{e['type']} on a WebSocket session")
        for i, e in enumerate(trace.server)
        if str(e.get("type", "")).startswith("output_audio_buffer.")
    ]


_FORMATS = {
    "event": re.compile(r"^event_[A-Za-z0-9]{21}$"),
    "item": re.compile(r"^item_[A-Za-z0-9]{21}$"),
    "resp": re.compile(r"^resp_[A-Za-z0-9]{21}$"),
    "conv": re.compile(r"^conv_[A-Za-z0-9]{21}$"),
    "call": re.compile(r"^call_[A-Za-z0-9]{16}$"),
}


def r17_id_format(trace: Trace) -> list[Violation]:
    """Server-issued ids only: an item id or call id a client frame chose is the client's."""
    chosen_items, chosen_calls = set(), set()
    for frame in trace.client:
        item = frame.get("item")
        if isinstance(item, Mapping):
            chosen_items.add(item.get("id"))
            chosen_calls.add(item.get("call_id"))
    out: list[Violation] = []

    def check(i: int, kind: str, value: Any) -> None:
        if not isinstance(value, str) or not _FORMATS[kind].match(value):
            out.append(Violation("R17", i, f"{kind} id {value!r} is not in the real format"))

    for i, event in enumerate(trace.server):
        check(i, "event", event.get("event_id"))
        items = [event["item"]] if isinstance(event.get("item"), Mapping) else []
        response = event.get("response")
        if isinstance(response, Mapping):
            check(i, "resp", response.get("id"))
            if response.get("conversation_id") is not None:
                check(i, "conv", response["conversation_id"])
            items += [o for o in response.get("output") or [] if isinstance(o, Mapping)]
        for item in items:
            if item.get("id") not in chosen_items:
                check(i, "item", item.get("id"))
            if item.get("type") == "function_call" and item.get("call_id") not in chosen_calls:
                check(i, "call", item.get("call_id"))
    return out


# -- R03 session -------------------------------------------------------------------------


def r03_session(trace: Trace) -> list[Violation]:
    out = []
    created = list(trace.of_type("session.created"))
    if not trace.server or trace.server[0].get("type") != "session.created":
        out.append(Violation("R03", 0 if trace.server else None, "session.created is not first"))
    if len(created) != 1:
        out.append(Violation("R03", None, f"{len(created)} session.created events, not one"))
    for i, event in trace.of_type("session.created", "session.updated"):
        session = event.get("session")
        if not isinstance(session, Mapping) or session.get("type") != "realtime":
            out.append(Violation("R03", i, f"{event['type']}: session.type is not 'realtime'"))
    updates = [f for f in trace.client if f.get("type") == "session.update"]
    refused = echoing_errors(trace, client_ids(trace, "session.update"))
    expected = len(updates) - len(refused)
    got = len(list(trace.of_type("session.updated")))
    unattributed = sum(
        1
        for _, e in trace.of_type("error")
        if isinstance(e.get("error"), Mapping) and e["error"].get("event_id") is None
    )
    if got > expected or got + unattributed < expected:
        out.append(
            Violation(
                "R03",
                None,
                f"{len(updates)} session.update, {got} session.updated, {len(refused)} refused",
            )
        )
    return out


# -- R05 .. R09, R15: responses ------------------------------------------------------------
